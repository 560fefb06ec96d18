package plugin

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	rpcplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"google.golang.org/protobuf/types/known/structpb"
)

var wire = rpcplugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

// Unmarshal decodes a property struct the engine sent, keeping unknowns and secrets as they are.
func Unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return rpcplugin.UnmarshalProperties(s, wire)
}

// Marshal encodes properties for the engine, keeping unknowns and secrets.
func Marshal(props resource.PropertyMap) (*structpb.Struct, error) {
	return rpcplugin.MarshalProperties(props, wire)
}

// Plain unwraps secrets (at any depth) so a value can be used; it reports whether the value is fully known.
func Plain(v resource.PropertyValue) (resource.PropertyValue, bool) {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsComputed():
		return v, false
	case v.IsOutput():
		out := v.OutputValue()
		if !out.Known {
			return v, false
		}
		return Plain(out.Element)
	case v.IsArray():
		known := true
		items := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, item := range v.ArrayValue() {
			var k bool
			items[i], k = Plain(item)
			known = known && k
		}
		return resource.NewArrayProperty(items), known
	case v.IsObject():
		known := true
		obj := resource.PropertyMap{}
		for key, item := range v.ObjectValue() {
			var k bool
			obj[key], k = Plain(item)
			known = known && k
		}
		return resource.NewObjectProperty(obj), known
	}
	return v, true
}

// String is the plain string at key ("" when absent or not a string).
func String(props resource.PropertyMap, key string) string {
	v, _ := Plain(props[resource.PropertyKey(key)])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Unknown is an unknown value of the given shape, for a preview.
func Unknown() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

// RandomID is a fresh resource id: prefix, a dash, 8 hex digits.
func RandomID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// ChangedKeys lists the keys among inputs whose value differs between olds and news (unknown counts as changed).
func ChangedKeys(olds, news resource.PropertyMap, inputs []string) []string {
	var changed []string
	for _, key := range inputs {
		k := resource.PropertyKey(key)
		o, ohas := olds[k]
		n, nhas := news[k]
		if ohas != nhas {
			if (ohas && !o.IsNull()) || (nhas && !n.IsNull()) {
				changed = append(changed, key)
			}
			continue
		}
		if !ohas {
			continue
		}
		po, _ := Plain(o)
		pn, knownNew := Plain(n)
		if !knownNew || !po.DeepEquals(pn) {
			changed = append(changed, key)
		}
	}
	return changed
}
