package deploy

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// templatePath is the SAM template, relative to this package.
const templatePath = "../../template.yaml"

// loadTemplate reads the template into plain maps, lists and scalars, with the
// CloudFormation short tags turned into their long form: !Ref X is
// {"Ref": "X"}, !GetAtt A.B is {"Fn::GetAtt": ["A", "B"]}, !Sub s is
// {"Fn::Sub": s}, and so on.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	v, err := fromNode(&doc)
	if err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: got %T at the top, want a mapping", templatePath, v)
	}
	return m
}

func fromNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if isShortTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	if !isShortTag(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// isShortTag reports whether tag is a CloudFormation short form such as !Ref
// (local tags start with a single "!"; YAML's own are "!!str" and the like).
func isShortTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// noValue is what AWS::NoValue evaluates to: the key or item is dropped.
type noValue struct{}

// stack resolves the intrinsic functions of a template for one set of
// parameter values, as CloudFormation would at deploy time. A Ref to a
// resource becomes "ref:<id>" and a GetAtt "getatt:<id>.<attr>".
type stack struct {
	template map[string]any
	params   map[string]any
	pseudo   map[string]string
}

// newStack takes the parameters' defaults, replaced by overrides.
func newStack(t *testing.T, template map[string]any, overrides map[string]string) *stack {
	t.Helper()
	s := &stack{
		template: template,
		params:   map[string]any{},
		pseudo: map[string]string{
			"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::StackName": "wxmedia",
			"AWS::Region": "ap-east-1", "AWS::URLSuffix": "amazonaws.com",
		},
	}
	params, _ := template["Parameters"].(map[string]any)
	for name := range overrides {
		if _, ok := params[name]; !ok {
			t.Fatalf("override of unknown parameter %s", name)
		}
	}
	for name, p := range params {
		p, _ := p.(map[string]any)
		val, ok := overrides[name]
		if !ok {
			val = fmt.Sprint(p["Default"])
			if p["Default"] == nil {
				t.Fatalf("parameter %s has no default", name)
			}
		}
		if p["Type"] == "CommaDelimitedList" {
			var l []any
			for _, s := range strings.Split(val, ",") {
				l = append(l, s)
			}
			s.params[name] = l
		} else {
			s.params[name] = val
		}
	}
	return s
}

func (s *stack) condition(name string) bool {
	conds, _ := s.template["Conditions"].(map[string]any)
	c, ok := conds[name]
	if !ok {
		panic("no condition " + name)
	}
	b, ok := s.eval(c).(bool)
	if !ok {
		panic("condition " + name + " is not a boolean")
	}
	return b
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// eval resolves Ref, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition,
// Fn::Join, Fn::Split, Fn::Select and Fn::Sub; other maps are evaluated
// member by member.
func (s *stack) eval(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, item := range v {
			if r := s.eval(item); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if r, ok := s.intrinsic(k, arg); ok {
					return r
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, item := range v {
			if r := s.eval(item); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	}
	return v
}

func (s *stack) intrinsic(fn string, arg any) (any, bool) {
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return s.ref(name), true
	case "Condition":
		name, _ := arg.(string)
		return s.condition(name), true
	case "Fn::If":
		name, _ := args[0].(string)
		if s.condition(name) {
			return s.eval(args[1]), true
		}
		return s.eval(args[2]), true
	case "Fn::Equals":
		return reflect.DeepEqual(s.eval(args[0]), s.eval(args[1])), true
	case "Fn::Not":
		return !s.eval(args[0]).(bool), true
	case "Fn::And", "Fn::Or":
		all := fn == "Fn::And"
		for _, a := range args {
			if s.eval(a).(bool) != all {
				return !all, true
			}
		}
		return all, true
	case "Fn::Split":
		var out []any
		for _, part := range strings.Split(fmt.Sprint(s.eval(args[1])), args[0].(string)) {
			out = append(out, part)
		}
		return out, true
	case "Fn::Select":
		list, _ := s.eval(args[1]).([]any)
		return list[args[0].(int)], true
	case "Fn::Join":
		var parts []string
		for _, p := range s.eval(args[1]).([]any) {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, args[0].(string)), true
	case "Fn::GetAtt":
		return fmt.Sprintf("getatt:%v.%v", args[0], args[1]), true
	case "Fn::Sub":
		format, _ := arg.(string)
		vars := map[string]any{}
		if args != nil {
			format, _ = args[0].(string)
			vars, _ = s.eval(args[1]).(map[string]any)
		}
		return subVar.ReplaceAllStringFunc(format, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := vars[name]; ok {
				return fmt.Sprint(v)
			}
			if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
				return "getatt:" + res + "." + attr
			}
			return fmt.Sprint(s.ref(name))
		}), true
	}
	return nil, false
}

func (s *stack) ref(name string) any {
	if name == "AWS::NoValue" {
		return noValue{}
	}
	if v, ok := s.pseudo[name]; ok {
		return v
	}
	if v, ok := s.params[name]; ok {
		return v
	}
	return "ref:" + name
}

// resources returns the template's resources, evaluated: those whose
// Condition is false are left out, as CloudFormation leaves them.
func (s *stack) resources() map[string]map[string]any {
	return s.section("Resources")
}

// outputs returns the template's outputs, evaluated, those of a false
// Condition left out.
func (s *stack) outputs() map[string]map[string]any {
	return s.section("Outputs")
}

func (s *stack) section(name string) map[string]map[string]any {
	items, _ := s.template[name].(map[string]any)
	out := make(map[string]map[string]any, len(items))
	for id, item := range items {
		if c, ok := path(item, "Condition").(string); ok && !s.condition(c) {
			continue
		}
		out[id], _ = s.eval(item).(map[string]any)
	}
	return out
}

// path walks nested maps; it returns nil when a key is missing.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// strs accepts a string or a list of strings, as IAM and SAM do.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, item := range v {
			out = append(out, fmt.Sprint(item))
		}
		return out
	}
	return nil
}
