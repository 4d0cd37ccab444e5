package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// SyntaxError is a signature policy that does not parse. Offset is the
// 0-based byte offset in the text where the problem is.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("policy: at offset %d: %s", e.Offset, e.Msg)
}

// Parse reads a signature policy expression and returns its syntax tree,
// which always passes Validate. The grammar is in the package
// documentation.
func Parse(text string) (Expr, error) {
	p := &parser{src: text}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, &SyntaxError{Offset: p.tok.pos, Msg: "empty expression"}
	}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after the end of the expression", p.tok.describe())
	}
	return e, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokNumber
	tokString
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	pos  int    // offset of the token's first byte
	text string // the token as written; for a string, without its quotes
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokIdent:
		return strconv.Quote(t.text)
	case tokNumber:
		return "number " + t.text
	case tokString:
		return "string '" + t.text + "'"
	case tokLParen:
		return "'('"
	case tokRParen:
		return "')'"
	case tokComma:
		return "','"
	}
	return "?"
}

type parser struct {
	src string
	off int   // offset of the next unread byte
	tok token // current token
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.tok.pos, Msg: fmt.Sprintf(format, args...)}
}

// next reads the next token into p.tok.
func (p *parser) next() error {
	for p.off < len(p.src) && isSpace(p.src[p.off]) {
		p.off++
	}
	start := p.off
	if start == len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return nil
	}
	c := p.src[start]
	switch {
	case c == '(':
		p.off++
		p.tok = token{kind: tokLParen, pos: start, text: "("}
	case c == ')':
		p.off++
		p.tok = token{kind: tokRParen, pos: start, text: ")"}
	case c == ',':
		p.off++
		p.tok = token{kind: tokComma, pos: start, text: ","}
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.src[start+1:], c)
		if end < 0 {
			return &SyntaxError{Offset: start, Msg: "unterminated string"}
		}
		p.off = start + 1 + end + 1
		p.tok = token{kind: tokString, pos: start, text: p.src[start+1 : start+1+end]}
	case isDigit(c) || c == '-' || c == '+':
		p.off++
		for p.off < len(p.src) && isDigit(p.src[p.off]) {
			p.off++
		}
		if p.off == start+1 && !isDigit(c) {
			return &SyntaxError{Offset: start, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
		p.tok = token{kind: tokNumber, pos: start, text: p.src[start:p.off]}
	case isLetter(c):
		p.off++
		for p.off < len(p.src) && isIdentByte(p.src[p.off]) {
			p.off++
		}
		p.tok = token{kind: tokIdent, pos: start, text: p.src[start:p.off]}
	default:
		if c >= 0x80 {
			return &SyntaxError{Offset: start, Msg: "unexpected non-ASCII character"}
		}
		return &SyntaxError{Offset: start, Msg: fmt.Sprintf("unexpected character %q", c)}
	}
	return nil
}

// expr parses one expression: a quoted principal or a gate. depth counts
// the gates around it.
func (p *parser) expr(depth int) (Expr, error) {
	switch p.tok.kind {
	case tokString:
		return p.principal()
	case tokIdent:
		return p.gate(depth)
	case tokEOF:
		return nil, p.errorf("unexpected end of input, expected a principal such as 'Org1MSP.peer' or AND, OR, OutOf")
	default:
		return nil, p.errorf("expected a principal such as 'Org1MSP.peer' or AND, OR, OutOf, found %s", p.tok.describe())
	}
}

func (p *parser) principal() (Expr, error) {
	t := p.tok
	pr, at, err := parsePrincipal(t.text)
	if err != nil {
		return nil, &SyntaxError{Offset: t.pos + 1 + at, Msg: err.Error()}
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	return &SignedBy{Principal: pr}, nil
}

func (p *parser) gate(depth int) (Expr, error) {
	name := p.tok
	var kind string
	switch {
	case strings.EqualFold(name.text, "AND"):
		kind = "AND"
	case strings.EqualFold(name.text, "OR"):
		kind = "OR"
	case strings.EqualFold(name.text, "OutOf"):
		kind = "OutOf"
	case strings.Contains(name.text, "."):
		return nil, p.errorf("principal %s must be quoted: '%s'", name.text, name.text)
	default:
		return nil, p.errorf("unknown function %q (want AND, OR or OutOf)", name.text)
	}
	if depth >= MaxDepth {
		return nil, p.errorf("gates nested deeper than %d", MaxDepth)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokLParen {
		return nil, p.errorf("expected '(' after %s, found %s", kind, p.tok.describe())
	}
	if err := p.next(); err != nil {
		return nil, err
	}

	var (
		n      int
		nText  string
		nToken token
	)
	if kind == "OutOf" {
		nToken = p.tok
		switch p.tok.kind {
		case tokNumber:
			nText = p.tok.text
		case tokString:
			// Fabric's parser also takes the count as a string: OutOf('2', ...).
			nText = strings.TrimSpace(p.tok.text)
			if !isNumber(nText) {
				return nil, p.errorf("expected the number of rules OutOf needs, found %s", p.tok.describe())
			}
		default:
			return nil, p.errorf("expected the number of rules OutOf needs, found %s", p.tok.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokComma {
			if p.tok.kind == tokRParen {
				return nil, p.errorf("OutOf needs at least one rule after its count")
			}
			return nil, p.errorf("expected ',' after the count of OutOf, found %s", p.tok.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	} else if p.tok.kind == tokRParen {
		return nil, p.errorf("%s needs at least one rule", kind)
	}

	var rules []Expr
	for {
		r, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
		if p.tok.kind == tokRParen {
			break
		}
		if p.tok.kind != tokComma {
			return nil, p.errorf("expected ',' or ')', found %s", p.tok.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if err := p.next(); err != nil {
		return nil, err
	}

	switch kind {
	case "AND":
		n = len(rules)
	case "OR":
		n = 1
	default:
		v, err := strconv.Atoi(strings.TrimPrefix(nText, "+"))
		if err != nil || v < 1 || v > len(rules) {
			return nil, &SyntaxError{
				Offset: nToken.pos,
				Msg:    fmt.Sprintf("OutOf n out of range: need 1 <= n <= %d (the number of rules), got %s", len(rules), nText),
			}
		}
		n = v
	}
	return &Gate{N: n, Rules: rules}, nil
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isIdentByte accepts what may follow the first letter of a word. Dots and
// dashes are included so that an unquoted principal reads as one word and
// gets a helpful message.
func isIdentByte(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

func isNumber(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
