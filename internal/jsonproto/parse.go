package jsonproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays Parse accepts, as
// encoding/json bounds it, so that a hostile answer cannot exhaust the stack.
const maxDepth = 10000

// Parse parses one JSON value, the whole of data but for whitespace around
// it, into what encoding/json's Decoder with UseNumber gives: map[string]any,
// []any, string, json.Number, bool and nil. Strings are coerced to UTF-8 as
// encoding/json coerces them (an invalid byte or lone surrogate becomes
// U+FFFD), and a key given twice keeps its last value.
//
// It is the generic path's parser for HighLevel's answers: it reads the
// bytes once, where a Decoder scans them twice (once to find the value's
// end, once to build it) and copies every string through a buffer. Unlike
// a Decoder, anything after the value but whitespace is an error.
func Parse(data []byte) (any, error) {
	p := parser{data: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.data) {
		return nil, p.errorf("invalid character %q after top-level value", p.data[p.i])
	}
	return v, nil
}

type parser struct {
	data []byte
	i    int
	// whole, when set, is data as one string, and the strings read are
	// cut from it instead of each being copied on its own: one allocation
	// for all of them, which keep the whole alive while any of them is.
	whole string
}

// SyntaxError is Parse's error: what was wrong, and the byte offset where.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset) }

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: p.i}
}

var errEnd = errors.New("unexpected end of JSON input")

func (p *parser) end() error { return &SyntaxError{Msg: errEnd.Error(), Offset: p.i} }

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.data) {
		return nil, p.end()
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("invalid character %q looking for beginning of value", c)
	}
}

func (p *parser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) {
			return p.end()
		}
		if p.data[p.i] != word[k] {
			return p.errorf("invalid character %q in literal %s", p.data[p.i], word)
		}
		p.i++
	}
	return nil
}

func (p *parser) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("exceeded max depth")
	}
	p.i++ // {
	obj := map[string]any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		if p.i >= len(p.data) {
			return nil, p.end()
		}
		if p.data[p.i] != '"' {
			return nil, p.errorf("invalid character %q looking for beginning of object key string", p.data[p.i])
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, p.end()
		}
		if p.data[p.i] != ':' {
			return nil, p.errorf("invalid character %q after object key", p.data[p.i])
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		p.space()
		if p.i >= len(p.data) {
			return nil, p.end()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return obj, nil
		default:
			return nil, p.errorf("invalid character %q after object key:value pair", p.data[p.i])
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("exceeded max depth")
	}
	p.i++ // [
	arr := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return arr, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, p.end()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return arr, nil
		default:
			return nil, p.errorf("invalid character %q after array element", p.data[p.i])
		}
	}
}

// number reads a number as JSON's grammar has it, as a json.Number of its
// literal text.
func (p *parser) number() (any, error) {
	start := p.i
	if err := p.scanNumber(); err != nil {
		return nil, err
	}
	return json.Number(p.data[start:p.i]), nil
}

// scanNumber passes over a number as JSON's grammar has it.
func (p *parser) scanNumber() error {
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i >= len(p.data):
		return p.end()
	case p.data[p.i] == '0':
		p.i++
	case p.data[p.i] >= '1' && p.data[p.i] <= '9':
		p.digits()
	default:
		return p.errorf("invalid character %q in numeric literal", p.data[p.i])
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.i >= len(p.data) {
			return p.end()
		}
		if !isDigit(p.data[p.i]) {
			return p.errorf("invalid character %q after decimal point in numeric literal", p.data[p.i])
		}
		p.digits()
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.data) {
			return p.end()
		}
		if !isDigit(p.data[p.i]) {
			return p.errorf("invalid character %q in exponent of numeric literal", p.data[p.i])
		}
		p.digits()
	}
	return nil
}

func (p *parser) digits() {
	for p.i < len(p.data) && isDigit(p.data[p.i]) {
		p.i++
	}
}

// string reads a string: the bytes as they are when they are printable
// ASCII without escapes (the common case), else decoded as encoding/json
// decodes them.
func (p *parser) string() (string, error) {
	raw, s, err := p.rawString()
	if raw != nil {
		return p.text(raw), nil
	}
	return s, err
}

// text is raw, the string rawString has just read, as a string.
func (p *parser) text(raw []byte) string {
	if p.whole == "" {
		return string(raw)
	}
	end := p.i - 1 // the closing quote
	return p.whole[end-len(raw) : end]
}

// rawString reads a string. One of printable ASCII without escapes is
// returned as raw, a slice of the input, which the caller may convert or
// only look up (a key its table claims costs no string); any other is
// decoded into s.
func (p *parser) rawString() (raw []byte, s string, err error) {
	p.i++ // "
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		if plainByte[c] {
			p.i++
			continue
		}
		switch {
		case c == '"':
			raw = p.data[start:p.i:p.i]
			p.i++
			return raw, "", nil
		case c == '\\' || c >= utf8.RuneSelf:
			s, err = p.slowString(start)
			return nil, s, err
		case c < 0x20:
			return nil, "", p.errorf("invalid character %q in string literal", c)
		}
		p.i++
	}
	return nil, "", p.end()
}

// plainByte marks the bytes a string's fast path passes over: printable
// ASCII but for the quote and the backslash. stringByte adds every byte of
// a multi-byte character, for a scan that only checks.
var plainByte, stringByte = func() (plain, str [256]bool) {
	for c := 0x20; c < 256; c++ {
		str[c] = c != '"' && c != '\\'
		plain[c] = str[c] && c < utf8.RuneSelf
	}
	return plain, str
}()

func (p *parser) slowString(start int) (string, error) {
	b := make([]byte, 0, p.i-start+16)
	b = append(b, p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("invalid character %q in string literal", c)
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				return "", p.end()
			}
			switch e := p.data[p.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4(p.i + 1)
				if !ok {
					return "", p.errorf("invalid character in \\u hexadecimal character escape")
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					// A pair only when the next escape completes it;
					// otherwise the replacement rune, and the next escape
					// is read on its own.
					if p.i+2 < len(p.data) && p.data[p.i+1] == '\\' && p.data[p.i+2] == 'u' {
						if r2, ok := p.hex4(p.i + 3); ok {
							if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
								p.i += 6
								b = utf8.AppendRune(b, d)
								break
							}
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.errorf("invalid character %q in string escape code", e)
			}
			p.i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			b = utf8.AppendRune(b, r)
			p.i += size
		}
	}
	return "", p.end()
}

// hex4 reads the four hexadecimal digits at data[at:].
func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}
