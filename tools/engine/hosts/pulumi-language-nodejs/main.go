// pulumi-language-nodejs: a minimal Node.js language host for the real-engine suite.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served
// by the Go module proxy this project can reach, so this one does the part the suite needs: Run starts
// @pulumi/pulumi's own program runner (cmd/run, the same script the upstream host starts) with the engine's
// request as its flags and environment, and GetPluginInfo answers the SDK version. Everything else answers
// Unimplemented, which the engine tolerates (GetRequiredPackages: providers are then loaded lazily, at the
// version each resource registers).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"steadydancer.local/engine/hosts/internal/plugin"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is stamped at build time (-X main.Version=...) with the @pulumi/pulumi version it was built for.
var Version = "0.0.0-dev"

// The runner's exit code after it has already shown the user an actionable error (cmd/run/index.js).
const exitAfterReportedError = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	plugin.Serve("pulumi-language-nodejs", func(srv *grpc.Server, engine *plugin.Engine) {
		pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engine.Address()})
	})
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	programDir := req.GetPwd()
	entryPoint := "."
	var options map[string]any
	if info := req.GetInfo(); info != nil {
		if info.GetProgramDirectory() != "" {
			programDir = info.GetProgramDirectory()
		}
		if info.GetEntryPoint() != "" {
			entryPoint = info.GetEntryPoint()
		}
		options = info.GetOptions().AsMap()
	}
	runner, err := findRunner(programDir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := nodeArgs(options)
	args = append(args, runner)
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engineAddress)
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("stack", req.GetStack())
	flag("pwd", req.GetPwd())
	if info := req.GetInfo(); info != nil {
		flag("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		flag("parallel", strconv.Itoa(int(req.GetParallel())))
	}
	args = append(args, entryPoint)
	args = append(args, req.GetArgs()...)

	env, err := programEnv(req, options)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitAfterReportedError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// findRunner locates @pulumi/pulumi/cmd/run in the node_modules folders from the program directory upwards.
func findRunner(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(filepath.Join(candidate, "index.js")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("@pulumi/pulumi is not installed in or above %s: run npm ci", dir)
		}
	}
}

// nodeArgs: the runtime option nodeargs of Pulumi.yaml, split on spaces.
func nodeArgs(options map[string]any) []string {
	if value, ok := options["nodeargs"].(string); ok && strings.TrimSpace(value) != "" {
		return strings.Fields(value)
	}
	return nil
}

// programEnv: ours plus the config (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS) and the TypeScript options the
// runner reads from the environment.
func programEnv(req *pulumirpc.RunRequest, options map[string]any) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(configJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	typescript := true
	if value, ok := options["typescript"].(bool); ok {
		typescript = value
	}
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript))
	if value, ok := options["tsconfig"].(string); ok && value != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+value)
	}
	return env, nil
}
