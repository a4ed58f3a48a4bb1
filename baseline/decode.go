package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// itemsMarker separates the header from the items in the canonical
// encoding.
var itemsMarker = []byte(`,"items":[`)

// decodeCanonical reads the canonical encoding quickly: the header with
// encoding/json, then each item line with a parser for exactly the form
// appendJSON writes, hashing the lines as it goes. ok is false when data is
// not in canonical form; the caller then decodes it generically.
func decodeCanonical(data []byte) (s *Snapshot, recorded, computed Digest, ok bool, err error) {
	i := bytes.Index(data, itemsMarker)
	if i < 0 {
		return nil, Digest{}, Digest{}, false, nil
	}
	var h header
	hb := make([]byte, 0, i+1)
	hb = append(append(hb, data[:i]...), '}')
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, Digest{}, Digest{}, false, nil
	}
	rest := data[i+len(itemsMarker):]
	s = &Snapshot{Format: h.Format, Host: h.Host, TakenAt: h.TakenAt, AgentVersion: h.AgentVersion,
		ConfigDigest: h.ConfigDigest, Sources: h.Sources}
	hash := sha256.New()
	var line []byte
	line = appendString(line, h.Host.Name)
	line = append(line, '\n')
	hash.Write(line)
	p := &itemParser{intern: map[string]string{}}
	s.Items = make([]Item, 0, bytes.Count(rest, []byte("\n{")))
	for len(rest) > 0 {
		if rest[0] != '\n' {
			return nil, Digest{}, Digest{}, false, nil
		}
		rest = rest[1:]
		if bytes.HasPrefix(rest, []byte("]}")) {
			tail := bytes.TrimSpace(rest[2:])
			if len(tail) != 0 {
				return nil, Digest{}, Digest{}, false, nil
			}
			hash.Sum(computed[:0])
			return s, h.Digest, computed, true, nil
		}
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			return nil, Digest{}, Digest{}, false, nil
		}
		obj := rest[:end]
		rest = rest[end:]
		obj = bytes.TrimSuffix(obj, []byte(","))
		var it Item
		if err := p.parse(obj, &it); errors.Is(err, errSyntax) {
			// Valid JSON perhaps, but not as appendJSON writes it (a
			// field given twice, say): the generic decoder reads it.
			return nil, Digest{}, Digest{}, false, nil
		} else if err != nil {
			return nil, Digest{}, Digest{}, false, fmt.Errorf("item %d: %w", len(s.Items), err)
		}
		hash.Write(obj)
		hash.Write([]byte{'\n'})
		s.Items = append(s.Items, it)
	}
	return nil, Digest{}, Digest{}, false, nil
}

// itemParser parses one item object as appendJSON writes it. With an
// intern map it interns short strings (attribute names and common values
// such as "0644" or "root"), which keeps a decoded snapshot of 100,000
// files small.
type itemParser struct {
	b      []byte
	pos    int
	intern map[string]string
}

var errSyntax = errors.New("not in canonical form")

func (p *itemParser) parse(b []byte, it *Item) error {
	p.b, p.pos = b, 0
	if !p.consume('{') {
		return errSyntax
	}
	var keyRaw string
	var attrsRaw map[string]string
	var seen uint16 // fieldBit of each field read
	first := true
	for {
		if p.consume('}') {
			break
		}
		if !first && !p.consume(',') {
			return errSyntax
		}
		first = false
		name, err := p.str(false)
		if err != nil {
			return err
		}
		if !p.consume(':') {
			return errSyntax
		}
		// A field given twice is not canonical (and encoding/json
		// would merge two objects).
		bit := fieldBit(name)
		if seen&bit != 0 {
			return errSyntax
		}
		seen |= bit
		switch name {
		case "key":
			if it.Key, err = p.str(false); err != nil {
				return err
			}
		case "key_raw":
			if keyRaw, err = p.str(false); err != nil {
				return err
			}
		case "source":
			if it.Source, err = p.str(true); err != nil {
				return err
			}
		case "attrs":
			if it.Attrs, err = p.attrs(); err != nil {
				return err
			}
		case "attrs_raw":
			raw, err := p.attrs()
			if err != nil {
				return err
			}
			attrsRaw = raw.Map()
		case "sha256", "content":
			h, err := p.str(false)
			if err != nil {
				return err
			}
			var d Digest
			if len(h) != 64 {
				return fmt.Errorf("%s: want 64 hex characters", name)
			}
			if _, err := hex.Decode(d[:], []byte(h)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if name == "sha256" {
				it.Digest = d
			} else {
				it.Content = d
			}
		case "redacted":
			if !bytes.HasPrefix(p.b[p.pos:], []byte("true")) {
				return errSyntax
			}
			p.pos += 4
			it.Redacted = true
		case "error":
			if it.Error, err = p.str(false); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown field %q", name)
		}
	}
	if p.pos != len(p.b) {
		return errSyntax
	}
	if keyRaw != "" {
		raw, err := base64.StdEncoding.DecodeString(keyRaw)
		if err != nil {
			return fmt.Errorf("key_raw: %w", err)
		}
		it.Key = string(raw)
	}
	for name, v := range attrsRaw {
		if _, ok := it.Attrs.Get(name); !ok {
			continue // as encoding/json reads it: a raw value replaces one
		}
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("attrs_raw.%s: %w", name, err)
		}
		it.Attrs = it.Attrs.Set(name, string(raw))
	}
	return nil
}

// fieldBit is a bit of its own for each field of an item (0 for others).
func fieldBit(name string) uint16 {
	switch name {
	case "key":
		return 1 << 0
	case "key_raw":
		return 1 << 1
	case "source":
		return 1 << 2
	case "attrs":
		return 1 << 3
	case "attrs_raw":
		return 1 << 4
	case "sha256":
		return 1 << 5
	case "content":
		return 1 << 6
	case "redacted":
		return 1 << 7
	case "error":
		return 1 << 8
	}
	return 0
}

func (p *itemParser) consume(c byte) bool {
	if p.pos < len(p.b) && p.b[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *itemParser) attrs() (Attrs, error) {
	if !p.consume('{') {
		return nil, errSyntax
	}
	a := make(Attrs, 0, 10)
	for !p.consume('}') {
		if len(a) > 0 && !p.consume(',') {
			return nil, errSyntax
		}
		name, err := p.str(true)
		if err != nil {
			return nil, err
		}
		if !p.consume(':') {
			return nil, errSyntax
		}
		v, err := p.str(true)
		if err != nil {
			return nil, err
		}
		if n := len(a); n > 0 && a[n-1].Name >= name {
			return nil, fmt.Errorf("attribute %q out of order", name)
		}
		a = append(a, Attr{Name: name, Value: v})
	}
	if len(a) == 0 {
		return nil, nil // as encoding/json reads an empty object
	}
	return a, nil
}

// str parses a JSON string; with intern, short results are shared.
func (p *itemParser) str(intern bool) (string, error) {
	if !p.consume('"') {
		return "", errSyntax
	}
	start := p.pos
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c == '"' {
			raw := p.b[start:p.pos]
			p.pos++
			if intern && p.intern != nil && len(raw) <= 24 {
				if s, ok := p.intern[string(raw)]; ok {
					return s, nil
				}
				s := string(raw)
				p.intern[s] = s
				return s, nil
			}
			return string(raw), nil
		}
		if c == '\\' {
			return p.slowStr(start)
		}
		if c < 0x20 {
			return "", errSyntax
		}
		p.pos++
	}
	return "", errSyntax
}

// slowStr parses a string with escapes, from its first character.
func (p *itemParser) slowStr(start int) (string, error) {
	out := make([]byte, 0, 64)
	p.pos = start
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(out), nil
		case c == '\\':
			if p.pos+1 >= len(p.b) {
				return "", errSyntax
			}
			e := p.b[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", errSyntax
				}
				if utf16.IsSurrogate(r) {
					// As encoding/json reads it: a valid pair is one
					// rune; otherwise this escape is U+FFFD and what
					// follows is read on its own.
					r2 := utf8.RuneError
					if p.pos+1 < len(p.b) && p.b[p.pos] == '\\' && p.b[p.pos+1] == 'u' {
						save := p.pos
						p.pos += 2
						var ok bool
						if r2, ok = p.hex4(); !ok {
							return "", errSyntax
						}
						if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
							p.pos = save
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", errSyntax
			}
		case c < 0x20:
			return "", errSyntax
		default:
			out = append(out, c)
			p.pos++
		}
	}
	return "", errSyntax
}

func (p *itemParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}
