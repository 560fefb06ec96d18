// pulumi-resource-command: a stand-in for the @pulumi/command provider's local:Command, for the
// real-engine suite only.
//
// The real provider (module github.com/pulumi/pulumi-command/provider) is not served by the Go module proxy
// this project can reach. This stand-in implements local:Command as the provider documents it, enough for
// the checks to really run through the engine: create (update, or create again, on a change; replace when
// triggers change and there is no update command), delete, commands skipped in a preview (stdout unknown),
// interpreter, dir, environment (added to the provider's own), stdin, logging, the previous outputs as
// PULUMI_COMMAND_STDOUT/STDERR, a failing command failing the step with its output attached, and stdout and
// stderr secret when any input is. Not implemented: assetPaths, archivePaths, remote:*.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"

	"steadydancer.local/engine/hosts/internal/plugin"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is stamped at build time with the @pulumi/command version the stand-in answers for.
var Version = "0.0.0-dev"

const localCommand = "command:local:Command"

var inputKeys = []string{
	"create", "update", "delete", "dir", "environment", "interpreter", "stdin", "logging", "triggers",
	"addPreviousOutputInEnv", "assetPaths", "archivePaths",
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine *plugin.Engine
}

func main() {
	plugin.Serve("pulumi-resource-command", func(srv *grpc.Server, engine *plugin.Engine) {
		pulumirpc.RegisterResourceProviderServer(srv, &provider{engine: engine})
	})
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func supported(urn string) error {
	if !strings.HasSuffix(urn, "::"+localCommand) && !strings.Contains(urn, "$"+localCommand+"::") {
		return status.Errorf(codes.Unimplemented, "this stand-in implements only %s (got %s)", localCommand, urn)
	}
	return nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := supported(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := plugin.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, key := range []string{"assetPaths", "archivePaths"} {
		if v, ok := news[resource.PropertyKey(key)]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: key, Reason: "not implemented by the stand-in command provider"})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := plugin.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := plugin.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	changed := plugin.ChangedKeys(olds, news, inputKeys)
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed}
	_, hasUpdate := news["update"]
	for _, key := range changed {
		if key == "triggers" && !hasUpdate {
			resp.Replaces = append(resp.Replaces, key)
		}
	}
	return resp, nil
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := supported(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs, err := plugin.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id := plugin.RandomID(req.GetName())
	if req.GetPreview() {
		return p.respond(id, inputs, plugin.Unknown(), plugin.Unknown())
	}
	stdout, stderr, err := p.run(ctx, req.GetUrn(), plugin.String(inputs, "create"), inputs, nil)
	if err != nil {
		return nil, err
	}
	return p.respond(id, inputs, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr))
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, err := plugin.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := plugin.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var out *pulumirpc.CreateResponse
	if req.GetPreview() {
		out, err = p.respond(req.GetId(), news, plugin.Unknown(), plugin.Unknown())
	} else {
		script := plugin.String(news, "update")
		if script == "" {
			script = plugin.String(news, "create")
		}
		var stdout, stderr string
		stdout, stderr, err = p.run(ctx, req.GetUrn(), script, news, previousOutputs(olds, news))
		if err == nil {
			out, err = p.respond(req.GetId(), news, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr))
		}
	}
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out.GetProperties()}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	// A command has nothing outside to read back: its state is what the last run printed.
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	olds, err := plugin.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if script := plugin.String(olds, "delete"); script != "" {
		if _, _, err := p.run(ctx, req.GetUrn(), script, olds, previousOutputs(olds, olds)); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// respond: the inputs as outputs plus stdout and stderr, which are secret when any input is.
func (p *provider) respond(id string, inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) (*pulumirpc.CreateResponse, error) {
	outs := inputs.Copy()
	if resource.NewObjectProperty(inputs).ContainsSecrets() {
		stdout, stderr = resource.MakeSecret(stdout), resource.MakeSecret(stderr)
	}
	outs["stdout"], outs["stderr"] = stdout, stderr
	props, err := plugin.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// previousOutputs: the last run's stdout and stderr, unless addPreviousOutputInEnv is false.
func previousOutputs(olds, news resource.PropertyMap) []string {
	if v, ok := plugin.Plain(news["addPreviousOutputInEnv"]); ok && v.IsBool() && !v.BoolValue() {
		return nil
	}
	return []string{"PULUMI_COMMAND_STDOUT=" + plugin.String(olds, "stdout"), "PULUMI_COMMAND_STDERR=" + plugin.String(olds, "stderr")}
}

func (p *provider) run(ctx context.Context, urn, script string, inputs resource.PropertyMap, extraEnv []string) (string, string, error) {
	interpreter := []string{"/bin/sh", "-c"}
	if v, known := plugin.Plain(inputs["interpreter"]); known && v.IsArray() && len(v.ArrayValue()) > 0 {
		interpreter = interpreter[:0]
		for _, word := range v.ArrayValue() {
			interpreter = append(interpreter, word.StringValue())
		}
	}
	args := append(append([]string{}, interpreter[1:]...), script)
	cmd := exec.CommandContext(ctx, interpreter[0], args...)
	cmd.Dir = plugin.String(inputs, "dir")
	cmd.Env = append(os.Environ(), extraEnv...)
	if v, known := plugin.Plain(inputs["environment"]); known && v.IsObject() {
		keys := v.ObjectValue().StableKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, key := range keys {
			cmd.Env = append(cmd.Env, string(key)+"="+v.ObjectValue()[key].StringValue())
		}
	}
	if stdin := plugin.String(inputs, "stdin"); stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	logging := plugin.String(inputs, "logging")
	if logging == "" {
		logging = "stdoutAndStderr"
	}
	var stdout, stderr, both bytes.Buffer
	var mu sync.Mutex
	var wg sync.WaitGroup
	pipe := func(dst *bytes.Buffer, show bool) io.Writer {
		r, w := io.Pipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			scanner := bufio.NewScanner(r)
			scanner.Buffer(make([]byte, 64*1024), 16*1024*1024)
			for scanner.Scan() {
				line := scanner.Text()
				mu.Lock()
				dst.WriteString(line + "\n")
				both.WriteString(line + "\n")
				mu.Unlock()
				if show {
					p.engine.Info(urn, line)
				}
			}
			_, _ = io.Copy(io.Discard, r)
		}()
		return w
	}
	outWriter := pipe(&stdout, logging == "stdout" || logging == "stdoutAndStderr")
	errWriter := pipe(&stderr, logging == "stderr" || logging == "stdoutAndStderr")
	cmd.Stdout, cmd.Stderr = outWriter, errWriter
	runErr := cmd.Run()
	_ = outWriter.(*io.PipeWriter).Close()
	_ = errWriter.(*io.PipeWriter).Close()
	wg.Wait()
	if runErr != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", runErr, script, both.String())
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}
