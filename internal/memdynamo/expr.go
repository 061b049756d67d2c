package memdynamo

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// evaluate reports whether expr holds of item:
//
//	expr   = term { "OR" term }
//	term   = factor { "AND" factor }
//	factor = "NOT" factor | "(" expr ")" | fn "(" name ")" | operand cmp operand
//	fn     = "attribute_exists" | "attribute_not_exists"
//	cmp    = "=" | "<>" | "<" | "<=" | ">" | ">="
//
// An operand is a #name, a plain attribute name or a :value.
func evaluate(expr string, names map[string]string, values map[string]types.AttributeValue, item map[string]types.AttributeValue) (bool, error) {
	p := &parser{toks: tokenize(expr), names: names, values: values, item: item}
	ok, err := p.expr()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return ok, err
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("()", c):
			toks = append(toks, string(c))
			i++
		case strings.ContainsRune("=<>", c):
			j := i + 1
			for j < len(s) && strings.ContainsRune("=<>", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()=<>", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type parser struct {
	toks   []string
	pos    int
	names  map[string]string
	values map[string]types.AttributeValue
	item   map[string]types.AttributeValue
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string { t := p.peek(); p.pos++; return t }

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("want %q, got %q", t, got)
	}
	return nil
}

func (p *parser) expr() (bool, error) {
	ok, err := p.term()
	for err == nil && strings.EqualFold(p.peek(), "OR") {
		p.next()
		var r bool
		r, err = p.term()
		ok = ok || r
	}
	return ok, err
}

func (p *parser) term() (bool, error) {
	ok, err := p.factor()
	for err == nil && strings.EqualFold(p.peek(), "AND") {
		p.next()
		var r bool
		r, err = p.factor()
		ok = ok && r
	}
	return ok, err
}

func (p *parser) factor() (bool, error) {
	switch t := p.next(); {
	case strings.EqualFold(t, "NOT"):
		ok, err := p.factor()
		return !ok, err
	case t == "(":
		ok, err := p.expr()
		if err == nil {
			err = p.expect(")")
		}
		return ok, err
	case t == "attribute_exists" || t == "attribute_not_exists":
		if err := p.expect("("); err != nil {
			return false, err
		}
		name, err := p.name(p.next())
		if err == nil {
			err = p.expect(")")
		}
		_, exists := p.item[name]
		return exists == (t == "attribute_exists"), err
	default:
		p.pos--
		return p.comparison()
	}
}

func (p *parser) comparison() (bool, error) {
	a, err := p.operand(p.next())
	if err != nil {
		return false, err
	}
	op := p.next()
	b, err := p.operand(p.next())
	if err != nil {
		return false, err
	}
	if a == nil || b == nil {
		return false, nil // a missing attribute compares false
	}
	c, comparable := compare(a, b)
	switch op {
	case "=":
		return comparable && c == 0, nil
	case "<>":
		return !comparable || c != 0, nil
	case "<":
		return comparable && c < 0, nil
	case "<=":
		return comparable && c <= 0, nil
	case ">":
		return comparable && c > 0, nil
	case ">=":
		return comparable && c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparator %q", op)
}

func (p *parser) name(t string) (string, error) {
	if strings.HasPrefix(t, "#") {
		n, ok := p.names[t]
		if !ok {
			return "", fmt.Errorf("undefined attribute name %s", t)
		}
		return n, nil
	}
	if t == "" || strings.HasPrefix(t, ":") {
		return "", fmt.Errorf("want an attribute name, got %q", t)
	}
	return t, nil
}

// operand is a :value, or the item's attribute (nil when it has none).
func (p *parser) operand(t string) (types.AttributeValue, error) {
	if strings.HasPrefix(t, ":") {
		v, ok := p.values[t]
		if !ok {
			return nil, fmt.Errorf("undefined attribute value %s", t)
		}
		return v, nil
	}
	n, err := p.name(t)
	if err != nil {
		return nil, err
	}
	return p.item[n], nil
}

// compare orders two strings or two numbers; others are not comparable.
func compare(a, b types.AttributeValue) (int, bool) {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		if b, ok := b.(*types.AttributeValueMemberS); ok {
			return strings.Compare(a.Value, b.Value), true
		}
	case *types.AttributeValueMemberN:
		if b, ok := b.(*types.AttributeValueMemberN); ok {
			x, errA := number(a.Value)
			y, errB := number(b.Value)
			if errors.Join(errA, errB) == nil {
				return x.Cmp(y), true
			}
		}
	}
	return 0, false
}

func number(s string) (*big.Float, error) {
	f, _, err := big.ParseFloat(s, 10, 128, big.ToNearestEven)
	return f, err
}
