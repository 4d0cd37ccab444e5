package node

import (
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The configuration is decoded by walking the YAML tree beside the Config
// struct, rather than by yaml.Unmarshal, so that every error names the
// field's path and line, unknown and repeated fields are refused, and the
// same leaf setters serve YAML and environment variables. A field takes
// part if it has a yaml tag; its kind is a struct (a section), a string, an
// int, a bool, a time.Duration, or a []string. A `chorus:"path"` tag marks
// file paths, which are resolved against a directory.

// envPrefix starts every environment variable that overrides a field.
const envPrefix = "CHORUS_"

// isEnvOrigin tells whether a field's origin is an environment variable.
func isEnvOrigin(origin string) bool { return strings.HasPrefix(origin, envPrefix) }

var durationType = reflect.TypeFor[time.Duration]()

func cfgValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

// leaf is one settable field of Config.
type leaf struct {
	path   string // "orderer.maxInflightTotal"
	env    string // "CHORUS_ORDERER_MAXINFLIGHTTOTAL"
	index  []int  // for reflect.Value.FieldByIndex
	isPath bool   // holds file paths
}

// yamlName returns the YAML key of a struct field, or "" if it takes no
// part in the configuration.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// leaves lists the settable fields of Config, in declaration order.
func leaves() []leaf {
	var out []leaf
	var walk func(t reflect.Type, path string, index []int)
	walk = func(t reflect.Type, path string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			p := joinPath(path, name)
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, p, idx)
				continue
			}
			out = append(out, leaf{
				path:   p,
				env:    envPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_")),
				index:  idx,
				isPath: f.Tag.Get("chorus") == "path",
			})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// decoder fills a Config from a YAML tree.
type decoder struct {
	errs    []*FieldError
	origins map[string]string
}

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Path: path, Origin: lineOf(n), Err: fmt.Errorf(format, args...)})
}

func lineOf(n *yaml.Node) string { return "line " + strconv.Itoa(n.Line) }

// value decodes n into v, the field at path ("" for the root).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if path != "" {
			d.origins[path] = lineOf(n)
		}
		return // "field:" with no value keeps the default
	}
	name := path
	if name == "" {
		name = "configuration"
	}
	switch {
	case v.Kind() == reflect.Struct && v.Type() != durationType:
		if n.Kind != yaml.MappingNode {
			d.fail(name, n, "want a mapping of fields, got %s", describe(n))
			return
		}
		if path != "" {
			d.origins[path] = lineOf(n)
		}
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, n, "want a list, such as [ca.pem], got %s", describe(n))
			return
		}
		list := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			for item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				d.fail(fmt.Sprintf("%s[%d]", path, i), item, "want a string, got %s", describe(item))
				continue
			}
			list = append(list, item.Value)
			d.origins[fmt.Sprintf("%s[%d]", path, len(list)-1)] = lineOf(item)
		}
		v.Set(reflect.ValueOf(list))
		d.origins[path] = lineOf(n)
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "want a single value, got %s", describe(n))
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			d.errs = append(d.errs, &FieldError{Path: path, Origin: lineOf(n), Err: err})
			return
		}
		d.origins[path] = lineOf(n)
	}
}

// mapping decodes the keys of n into the fields of struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	first := make(map[string]int) // key → line where it was first set
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(joinPath(path, "?"), k, "a key must be a name, got %s", describe(k))
			continue
		}
		p := joinPath(path, k.Value)
		if line, dup := first[k.Value]; dup {
			d.fail(p, k, "set twice (first on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		field, ok := fieldByName(t, k.Value)
		if !ok {
			msg := "unknown field"
			if s := suggest(k.Value, fieldNames(t)); s != "" {
				msg += "; did you mean " + joinPath(path, s) + "?"
			}
			d.fail(p, k, "%s", msg)
			continue
		}
		d.value(val, v.FieldByIndex(field.Index), p)
		if _, set := d.origins[p]; set {
			d.origins[p] = lineOf(k) // where the field is named
		}
	}
}

func fieldByName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// describe names the kind of a YAML node for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	default:
		return "something else"
	}
}

// setScalar sets a string, int, bool or duration field from its text.
func setScalar(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 2m, got %q", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("node: configuration field of unsupported type %v", v.Type()))
	}
	return nil
}

// resolvePaths makes the relative paths of the path fields absolute against
// dir, for the fields that selected(path) chooses.
func resolvePaths(c *Config, dir string, selected func(path string) bool) {
	root := cfgValue(c)
	for _, l := range leaves() {
		if !l.isPath || !selected(l.path) {
			continue
		}
		v := root.FieldByIndex(l.index)
		switch v.Kind() {
		case reflect.String:
			v.SetString(resolve(dir, v.String()))
		case reflect.Slice:
			list := v.Interface().([]string)
			for i, p := range list {
				list[i] = resolve(dir, p)
			}
		}
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// applyEnv sets the fields named by CHORUS_* variables of env. A variable
// with an empty value is ignored. Lists are comma-separated. Relative paths
// are resolved against the working directory. A variable that names no
// field but starts with a section's name (CHORUS_LISTEN_ADRESS) is an
// error; other CHORUS_* variables belong to other programs and are ignored.
func applyEnv(c *Config, env []string) []*FieldError {
	byEnv := make(map[string]leaf)
	sections := make(map[string]bool)
	for _, l := range leaves() {
		byEnv[l.env] = l
		if sec, _, nested := strings.Cut(l.path, "."); nested {
			sections[strings.ToUpper(sec)] = true
		}
	}
	root := cfgValue(c)
	var errs []*FieldError
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		l, known := byEnv[name]
		if !known {
			sec, _, _ := strings.Cut(strings.TrimPrefix(name, envPrefix), "_")
			if sections[sec] {
				msg := "names no configuration field"
				if s := suggest(name, slices.Collect(maps.Keys(byEnv))); s != "" {
					msg += "; did you mean " + s + "?"
				}
				errs = append(errs, &FieldError{Path: name, Err: fmt.Errorf("%s", msg)})
			}
			continue
		}
		if value == "" {
			continue
		}
		v := root.FieldByIndex(l.index)
		if v.Kind() == reflect.Slice {
			var list []string
			for item := range strings.SplitSeq(value, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			v.Set(reflect.ValueOf(list))
			for p := range c.origins {
				if strings.HasPrefix(p, l.path+"[") {
					delete(c.origins, p) // the file's elements are gone
				}
			}
		} else if err := setScalar(v, value); err != nil {
			errs = append(errs, &FieldError{Path: l.path, Origin: name, Err: err})
			continue
		}
		c.origins[l.path] = name
	}
	if wd, err := filepath.Abs("."); err == nil {
		resolvePaths(c, wd, func(path string) bool { return isEnvOrigin(c.origins[path]) })
	}
	return errs
}

// suggest returns the candidate closest to s, ignoring case, if it is close
// enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 0
	ls := strings.ToLower(s)
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		d := editDistance(ls, strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(2, len(s)/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
