// Package plugin holds what every plugin in this module does the same way: serve gRPC on a free loopback
// port, print the port for the engine, and log to the engine.
package plugin

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Serve parses the command line the engine starts a plugin with (flags, then the engine's address last),
// registers the services, prints the port on stdout and blocks until the server stops.
func Serve(name string, register func(srv *grpc.Server, engine *Engine)) {
	// Flags the engine may pass; the ones the SDK's logging package registers (-v, -logtostderr) are parsed too.
	for _, name := range []string{"tracing", "root"} {
		if flag.Lookup(name) == nil {
			flag.String(name, "", "ignored")
		}
	}
	flag.Parse()
	var engine *Engine
	if args := flag.Args(); len(args) > 0 {
		engine = dialEngine(args[len(args)-1])
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			register(srv, engine)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot serve: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: stopped serving: %v\n", name, err)
		os.Exit(1)
	}
}

// Engine logs to the Pulumi engine, which shows the lines under the resource they belong to.
type Engine struct {
	address string
	client  pulumirpc.EngineClient
}

// Address is the engine's gRPC address ("" when the plugin was started without one).
func (e *Engine) Address() string {
	if e == nil {
		return ""
	}
	return e.address
}

func dialEngine(address string) *Engine {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil
	}
	return &Engine{address: address, client: pulumirpc.NewEngineClient(conn)}
}

// Info logs one line for the resource urn; a nil Engine (no address given) logs to stderr.
func (e *Engine) Info(urn, message string) {
	if e == nil {
		fmt.Fprintln(os.Stderr, message)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.client.Log(ctx, &pulumirpc.LogRequest{Severity: pulumirpc.LogSeverity_INFO, Message: message, Urn: urn})
}
