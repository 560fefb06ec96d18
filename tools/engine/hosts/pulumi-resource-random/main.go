// pulumi-resource-random: a stand-in for the @pulumi/random provider's RandomString and RandomPassword, for
// the real-engine suite only.
//
// The real provider (module github.com/pulumi/pulumi-random/provider/v4) is not served by the Go module
// proxy this project can reach. This stand-in follows the provider's documented behaviour for the two
// resources: every input forces a replacement (keepers included), the result is unknown in a preview, drawn
// from crypto/rand over the enabled character classes honouring the min* counts, and RandomPassword's result
// is secret. Not implemented: bcryptHash, import, the other random resources.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"

	"steadydancer.local/engine/hosts/internal/plugin"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is stamped at build time with the @pulumi/random version the stand-in answers for.
var Version = "0.0.0-dev"

const (
	randomString   = "random:index/randomString:RandomString"
	randomPassword = "random:index/randomPassword:RandomPassword"
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

var inputKeys = []string{
	"length", "lower", "upper", "numeric", "number", "special", "minLower", "minUpper", "minNumeric",
	"minSpecial", "overrideSpecial", "keepers",
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	plugin.Serve("pulumi-resource-random", func(srv *grpc.Server, _ *plugin.Engine) {
		pulumirpc.RegisterResourceProviderServer(srv, &provider{})
	})
}

func kind(urn string) (string, error) {
	for _, token := range []string{randomString, randomPassword} {
		if strings.HasSuffix(urn, "::"+token) || strings.Contains(urn, "$"+token+"::") {
			return token, nil
		}
	}
	return "", status.Errorf(codes.Unimplemented, "this stand-in implements only RandomString and RandomPassword (got %s)", urn)
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

// Check fills the defaults the provider documents and validates the length against the minimums.
func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, err := kind(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := plugin.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, key := range []string{"lower", "upper", "numeric", "special"} {
		if _, ok := news[resource.PropertyKey(key)]; !ok {
			news[resource.PropertyKey(key)] = resource.NewBoolProperty(true)
		}
	}
	for _, key := range []string{"minLower", "minUpper", "minNumeric", "minSpecial"} {
		if _, ok := news[resource.PropertyKey(key)]; !ok {
			news[resource.PropertyKey(key)] = resource.NewNumberProperty(0)
		}
	}
	var failures []*pulumirpc.CheckFailure
	if length, ok := number(news, "length"); ok {
		mins := 0
		for _, key := range []string{"minLower", "minUpper", "minNumeric", "minSpecial"} {
			n, _ := number(news, key)
			mins += n
		}
		if length < 1 || length < mins {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: fmt.Sprintf("must be at least 1 and at least the sum of the min* counts (%d)", mins)})
		}
	} else if v := news["length"]; !v.IsComputed() && !v.IsOutput() {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: "required: a number"})
	}
	inputs, err := plugin.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
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
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: changed}, nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	token, err := kind(req.GetUrn())
	if err != nil {
		return nil, err
	}
	inputs, err := plugin.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	outs := inputs.Copy()
	id := "none"
	if req.GetPreview() {
		outs["result"] = plugin.Unknown()
	} else {
		result, err := generate(inputs)
		if err != nil {
			return nil, err
		}
		outs["result"] = resource.NewStringProperty(result)
		if token == randomString {
			id = result
		}
	}
	if token == randomPassword {
		outs["result"] = resource.MakeSecret(outs["result"])
	}
	props, err := plugin.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Update(context.Context, *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return nil, status.Error(codes.Internal, "every input of a random resource forces a replacement; update is never called")
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func number(props resource.PropertyMap, key string) (int, bool) {
	v, known := plugin.Plain(props[resource.PropertyKey(key)])
	if !known || !v.IsNumber() {
		return 0, false
	}
	return int(v.NumberValue()), true
}

func flag(props resource.PropertyMap, key string) bool {
	v, _ := plugin.Plain(props[resource.PropertyKey(key)])
	return !v.IsBool() || v.BoolValue()
}

// generate draws the min* characters of each class first, fills up from every enabled class, then shuffles.
func generate(props resource.PropertyMap) (string, error) {
	length, _ := number(props, "length")
	special := defaultSpecial
	if s := plugin.String(props, "overrideSpecial"); s != "" {
		special = s
	}
	numeric := flag(props, "numeric") && flag(props, "number")
	classes := []struct {
		chars   string
		enabled bool
		min     string
	}{
		{"abcdefghijklmnopqrstuvwxyz", flag(props, "lower"), "minLower"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", flag(props, "upper"), "minUpper"},
		{"0123456789", numeric, "minNumeric"},
		{special, flag(props, "special"), "minSpecial"},
	}
	var out []byte
	all := ""
	for _, class := range classes {
		if !class.enabled {
			continue
		}
		all += class.chars
		n, _ := number(props, class.min)
		for i := 0; i < n; i++ {
			c, err := pick(class.chars)
			if err != nil {
				return "", err
			}
			out = append(out, c)
		}
	}
	if all == "" {
		return "", fmt.Errorf("every character class is switched off: enable one of lower, upper, numeric, special")
	}
	for len(out) < length {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func pick(chars string) (byte, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
	if err != nil {
		return 0, err
	}
	return chars[i.Int64()], nil
}
