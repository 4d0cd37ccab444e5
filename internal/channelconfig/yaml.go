package channelconfig

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Bounds on a YAML definition's shape, so that aliases cannot expand a
// small file into an enormous document ("billion laughs") and cycles
// through merge keys end.
const (
	maxYAMLNodes = 100_000
	maxYAMLDepth = 64
)

// YAML tags the decoder looks at.
const (
	tagNull   = "!!null"
	tagMerge  = "!!merge"
	tagBinary = "!!binary"
	tagStr    = "!!str"
)

// extensionPrefix starts the top-level keys a definition ignores, so that
// an operator can keep anchors there ("x-peer: &peer {...}").
const extensionPrefix = "x-"

// parseYAMLDocument parses data as exactly one YAML document and returns
// its root node.
func parseYAMLDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty definition")
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("line %d: a second YAML document; a definition is one document", extra.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, errors.New("empty definition")
	}
	return doc.Content[0], nil
}

// nodeDecoder decodes a YAML node tree into the definition's structs by
// their yaml tags, as yaml.v3 would with KnownFields, but reporting every
// problem at its field path and line rather than stopping at the first:
// unknown fields (with a suggestion), duplicate keys, values of the wrong
// kind. It follows aliases and merge keys ("<<") within the bounds above.
// Types implementing yaml.Unmarshaler decode themselves.
type nodeDecoder struct {
	p         *problems
	lines     map[string]int // path -> line of its key or element
	nodes     int
	exhausted bool
}

func newNodeDecoder(p *problems) *nodeDecoder {
	return &nodeDecoder{p: p, lines: make(map[string]int)}
}

// decodeRoot decodes root into the struct *out points to.
func (d *nodeDecoder) decodeRoot(root *yaml.Node, out any) {
	d.decode(root, reflect.ValueOf(out).Elem(), "", 0)
}

// enter resolves aliases and accounts for one more node; it returns false
// when the bounds are exceeded (reported once).
func (d *nodeDecoder) enter(n *yaml.Node, path string, depth int) (*yaml.Node, bool) {
	if d.exhausted {
		return nil, false
	}
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > maxYAMLDepth {
			n = nil
			break
		}
		n = n.Alias
	}
	if n == nil {
		d.p.add(path, 0, errors.New("unresolvable alias"))
		d.exhausted = true
		return nil, false
	}
	d.nodes++
	switch {
	case depth > maxYAMLDepth:
		d.p.add(path, n.Line, fmt.Errorf("nested more than %d levels deep (a cycle of aliases?)", maxYAMLDepth))
	case d.nodes > maxYAMLNodes:
		d.p.add(path, n.Line, fmt.Errorf("the definition expands to more than %d YAML nodes (through aliases?)", maxYAMLNodes))
	default:
		return n, true
	}
	d.exhausted = true
	return nil, false
}

func (d *nodeDecoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	n, ok := d.enter(n, path, depth)
	if !ok || isNull(n) {
		return
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			d.p.add(path, n.Line, err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path, depth)
	case reflect.Slice:
		d.sequence(n, v, path, depth)
	case reflect.Map:
		d.mapping(n, v, path, depth)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.p.add(path, n.Line, fmt.Errorf("want a string, got %s", kindName(n)))
			return
		}
		v.SetString(n.Value)
	case reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode {
			d.p.add(path, n.Line, fmt.Errorf("want a whole number, got %s", kindName(n)))
			return
		}
		bits := v.Type().Bits()
		u, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, bits)
		if err != nil {
			d.p.add(path, n.Line, fmt.Errorf("want a whole number from 0 to %d, got %q", uint64(1)<<bits-1, n.Value))
			return
		}
		v.SetUint(u)
	default:
		panic(fmt.Sprintf("channelconfig: no YAML decoding for %s", v.Type())) // a field type this decoder was not taught
	}
}

// structField is a field of a struct as YAML names it.
type structField struct {
	name  string
	index int
}

func structFields(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		out = append(out, structField{name: name, index: i})
	}
	return out
}

func (d *nodeDecoder) structure(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.p.add(path, n.Line, fmt.Errorf("want a mapping, got %s", kindName(n)))
		return
	}
	fields := structFields(v.Type())
	for _, kv := range d.pairs(n, path, depth) {
		if path == "" && strings.HasPrefix(kv.key.Value, extensionPrefix) {
			continue // a place for anchors, as in Compose files
		}
		fpath := join(path, kv.key.Value)
		i := -1
		for j, f := range fields {
			if f.name == kv.key.Value {
				i = j
			}
		}
		if i < 0 {
			d.p.add(fpath, kv.key.Line, unknownField(kv.key.Value, fields))
			continue
		}
		d.record(fpath, kv.key.Line)
		d.decode(kv.value, v.Field(fields[i].index), fpath, depth+1)
	}
}

func (d *nodeDecoder) sequence(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.SequenceNode {
		d.p.add(path, n.Line, fmt.Errorf("want a list, got %s", kindName(n)))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := index(path, i)
		d.record(ipath, item.Line)
		d.decode(item, s.Index(i), ipath, depth+1)
	}
	v.Set(s)
}

func (d *nodeDecoder) mapping(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.p.add(path, n.Line, fmt.Errorf("want a mapping, got %s", kindName(n)))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("channelconfig: no YAML decoding for %s", v.Type()))
	}
	m := reflect.MakeMap(v.Type())
	for _, kv := range d.pairs(n, path, depth) {
		kpath := join(path, kv.key.Value)
		d.record(kpath, kv.key.Line)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(kv.value, elem, kpath, depth+1)
		m.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

func (d *nodeDecoder) record(path string, line int) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// keyValue is one entry of a mapping.
type keyValue struct{ key, value *yaml.Node }

// pairs returns a mapping's entries with merge keys applied: keys written
// in the mapping win over merged ones, and earlier merged mappings over
// later ones, as YAML's merge key type says. A key written twice is an
// error.
func (d *nodeDecoder) pairs(n *yaml.Node, path string, depth int) []keyValue {
	var out, merged []keyValue
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == tagMerge {
			merged = append(merged, d.mergeSources(v, path, depth+1)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.p.add(path, k.Line, fmt.Errorf("a key must be a string, not %s", kindName(k)))
			continue
		}
		if seen[k.Value] {
			d.p.add(join(path, k.Value), k.Line, fmt.Errorf("%q is given twice", k.Value))
			continue
		}
		seen[k.Value] = true
		out = append(out, keyValue{k, v})
	}
	for _, kv := range merged {
		if !seen[kv.key.Value] {
			seen[kv.key.Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// mergeSources returns the entries a merge key brings: those of a mapping
// or of a list of mappings, in order.
func (d *nodeDecoder) mergeSources(n *yaml.Node, path string, depth int) []keyValue {
	n, ok := d.enter(n, path, depth)
	if !ok {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path, depth)
	case yaml.SequenceNode:
		var out []keyValue
		for _, item := range n.Content {
			item, ok := d.enter(item, path, depth+1)
			if !ok {
				return out
			}
			if item.Kind != yaml.MappingNode {
				d.p.add(path, item.Line, fmt.Errorf("<<: want a mapping to merge, got %s", kindName(item)))
				continue
			}
			out = append(out, d.pairs(item, path, depth+1)...)
		}
		return out
	}
	d.p.add(path, n.Line, fmt.Errorf("<<: want a mapping or a list of mappings to merge, got %s", kindName(n)))
	return nil
}

// unknownField describes a key that names no field, with a suggestion when
// only its case is wrong.
func unknownField(key string, fields []structField) error {
	names := make([]string, len(fields))
	for i, f := range fields {
		if strings.EqualFold(f.name, key) {
			return fmt.Errorf("unknown field %q (did you mean %q?)", key, f.name)
		}
		names[i] = f.name
	}
	return fmt.Errorf("unknown field %q (want %s)", key, strings.Join(names, ", "))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// scalar returns the value of a scalar node, for the UnmarshalYAML methods
// of this package.
func scalar(n *yaml.Node, want string) (string, error) {
	for hops := 0; n.Kind == yaml.AliasNode && n.Alias != nil && hops < maxYAMLDepth; hops++ {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("want %s, got %s", want, kindName(n))
	}
	return n.Value, nil
}

// Units of ByteSize.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

// ByteSize is a number of bytes. YAML writes it as a whole number of bytes
// or as a whole number with a unit: "10 MiB", "512KB", "2 MB". KB, MB and
// GB count 1024 as KiB, MiB and GiB do, as in Fabric's configtx.yaml.
type ByteSize uint64

// ParseByteSize reads a size as a definition writes it (see ByteSize).
func ParseByteSize(s string) (ByteSize, error) {
	text := strings.TrimSpace(s)
	digits := 0
	for digits < len(text) && (text[digits] >= '0' && text[digits] <= '9' || text[digits] == '_') {
		digits++
	}
	unit := strings.ToLower(strings.TrimSpace(text[digits:]))
	var mult ByteSize
	switch unit {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = KiB
	case "m", "mb", "mib":
		mult = MiB
	case "g", "gb", "gib":
		mult = GiB
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(text[:digits], "_", ""), 10, 64)
	if digits == 0 || err != nil || mult == 0 {
		return 0, fmt.Errorf("invalid size %q: want a whole number of bytes or one with a unit, such as \"10 MiB\" or \"512 KB\" (KB, MB and GB count 1024)", s)
	}
	if n > math.MaxUint64/uint64(mult) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(n) * mult, nil
}

// String writes the size with the largest binary unit that divides it,
// "10 MiB", or in bytes, "1000 bytes".
func (s ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.size == 0 {
			return fmt.Sprintf("%d %s", s/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", uint64(s))
}

// MarshalYAML writes "10 MiB" for a size in whole KiB, else a number.
func (s ByteSize) MarshalYAML() (any, error) {
	if s != 0 && s%KiB == 0 {
		return s.String(), nil
	}
	return uint64(s), nil
}

// UnmarshalYAML reads a size (see ByteSize).
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a size such as \"10 MiB\"")
	if err != nil {
		return err
	}
	size, err := ParseByteSize(v)
	if err != nil {
		return err
	}
	*s = size
	return nil
}

// Duration is a length of time. YAML writes it as Go does: "250ms", "2s",
// "1m30s".
type Duration time.Duration

// String writes the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes "250ms" or "2s".
func (d Duration) MarshalYAML() (any, error) {
	v := time.Duration(d)
	switch {
	case v != 0 && v%time.Second == 0:
		return fmt.Sprintf("%ds", v/time.Second), nil
	case v%time.Millisecond == 0:
		return fmt.Sprintf("%dms", v/time.Millisecond), nil
	}
	return v.String(), nil
}

// UnmarshalYAML reads a duration with its unit.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a duration such as \"250ms\"")
	if err != nil {
		return err
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, such as \"250ms\" or \"2s\"", s)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: negative", s)
	}
	*d = Duration(v)
	return nil
}

// PEM is a certificate or CRL as a definition gives it: the path of a PEM
// file, relative to the definition's directory, or PEM text inline. A file
// may hold several PEM blocks (a bundle of CA certificates).
type PEM struct {
	// Path is the file as the definition names it; "" when inline.
	Path string
	// Data is the PEM content, read from Path or given inline.
	Data []byte
}

// pemMarker starts every PEM block; a value holding it is inline PEM.
const pemMarker = "-----BEGIN "

// MarshalYAML writes the path the PEM was read from, or the PEM inline as a
// literal block.
func (pm PEM) MarshalYAML() (any, error) {
	if pm.Path != "" {
		return pm.Path, nil
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: string(pm.Data)}
	if !utf8.Valid(pm.Data) {
		n.Tag, n.Value = tagBinary, base64.StdEncoding.EncodeToString(pm.Data)
	} else if bytes.ContainsRune(pm.Data, '\n') {
		n.Style = yaml.LiteralStyle
	}
	return n, nil
}

// UnmarshalYAML reads a file path or inline PEM text.
func (pm *PEM) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a file path or an inline PEM block")
	if err != nil {
		return err
	}
	switch {
	case n.ShortTag() == tagBinary:
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
		if err != nil {
			return fmt.Errorf("invalid !!binary value: %w", err)
		}
		*pm = PEM{Data: data}
	case strings.Contains(v, pemMarker):
		*pm = PEM{Data: []byte(v)}
	case strings.TrimSpace(v) == "":
		*pm = PEM{} // Config reports it missing
	default:
		*pm = PEM{Path: strings.TrimSpace(v)}
	}
	return nil
}

// policyMapping is the mapping form of a PolicyDef.
type policyMapping struct {
	Rule  string `yaml:"rule"`
	Scope string `yaml:"scope"`
}

// MarshalYAML writes the policy as a string, or as {rule, scope} when it
// has a scope.
func (pd PolicyDef) MarshalYAML() (any, error) {
	if pd.Scope == "" {
		return pd.Rule, nil
	}
	return policyMapping(pd), nil
}

// UnmarshalYAML reads a policy string or a {rule, scope} mapping.
func (pd *PolicyDef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			return errors.New("empty policy")
		}
		*pd = PolicyDef{Rule: n.Value}
		return nil
	case yaml.MappingNode:
		var out PolicyDef
		seen := make(map[string]bool)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				return fmt.Errorf("%q is given twice", k.Value)
			}
			seen[k.Value] = true
			s, err := scalar(v, "a string")
			if err != nil {
				return fmt.Errorf("%s: %w", k.Value, err)
			}
			switch k.Value {
			case "rule":
				out.Rule = s
			case "scope":
				out.Scope = strings.ToLower(strings.TrimSpace(s))
			default:
				return fmt.Errorf("unknown field %q (want rule, scope)", k.Value)
			}
		}
		if strings.TrimSpace(out.Rule) == "" {
			return errors.New("rule: missing")
		}
		*pd = out
		return nil
	}
	return fmt.Errorf("want a policy string or a {rule, scope} mapping, got %s", kindName(n))
}
