package baseline

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Item kinds: the part of a key before the first colon.
const (
	KindFile      = "file"
	KindPackage   = "package"
	KindService   = "service"
	KindSysctl    = "sysctl"
	KindUser      = "user"
	KindGroup     = "group"
	KindPort      = "port"
	KindCommand   = "command"
	KindInventory = "inventory"
)

// Attribute names shared by several sources.
const (
	AttrType   = "type"   // file type: file, dir, symlink, fifo, socket, char, block
	AttrMode   = "mode"   // permission bits as four octal digits, e.g. "0644"
	AttrUID    = "uid"    // numeric owner
	AttrGID    = "gid"    // numeric group
	AttrOwner  = "owner"  // owner name, when it resolves
	AttrGroup  = "group"  // group name, when it resolves
	AttrSize   = "size"   // size in bytes
	AttrMtime  = "mtime"  // modification time, RFC 3339 with nanoseconds, UTC
	AttrTarget = "target" // symlink target
	AttrSHA256 = "sha256" // content digest, as shown in a Change
	AttrError  = "error"  // why an item could not be read fully, as shown in a Change
)

// Attr is one named attribute of an item.
type Attr struct {
	Name  string
	Value string
}

// Attrs is an item's attributes, sorted by name with no duplicate names. The
// slice form keeps snapshots of 100,000 items small; its JSON form is an
// object.
type Attrs []Attr

// Get returns the value of the named attribute and whether it is present.
func (a Attrs) Get(name string) (string, bool) {
	i := sort.Search(len(a), func(i int) bool { return a[i].Name >= name })
	if i < len(a) && a[i].Name == name {
		return a[i].Value, true
	}
	return "", false
}

// Set returns a with the named attribute set to value, keeping it sorted.
func (a Attrs) Set(name, value string) Attrs {
	i := sort.Search(len(a), func(i int) bool { return a[i].Name >= name })
	if i < len(a) && a[i].Name == name {
		a[i].Value = value
		return a
	}
	a = append(a, Attr{})
	copy(a[i+1:], a[i:])
	a[i] = Attr{Name: name, Value: value}
	return a
}

// Sort sorts a by name; later duplicates win.
func (a Attrs) Sort() Attrs {
	sort.SliceStable(a, func(i, j int) bool { return a[i].Name < a[j].Name })
	out := a[:0]
	for _, at := range a {
		if n := len(out); n > 0 && out[n-1].Name == at.Name {
			out[n-1] = at
			continue
		}
		out = append(out, at)
	}
	return out
}

// Map returns the attributes as a map.
func (a Attrs) Map() map[string]string {
	m := make(map[string]string, len(a))
	for _, at := range a {
		m[at.Name] = at.Value
	}
	return m
}

// AttrsFromMap builds sorted Attrs from a map.
func AttrsFromMap(m map[string]string) Attrs {
	a := make(Attrs, 0, len(m))
	for k, v := range m {
		a = append(a, Attr{Name: k, Value: v})
	}
	return a.Sort()
}

// Item is one observed piece of configuration, named by a stable key such as
// "file:/etc/ssh/sshd_config" or "package:openssl".
//
// Digest is the SHA-256 of the item's raw content (file bytes, command
// output) and is what detects a content change, including a change inside a
// redacted span. Content, when set, is the digest of the stored text content
// after redaction; the content itself lives in a blob store. Redacted says
// that the stored content had secrets masked.
type Item struct {
	Key      string
	Source   string
	Attrs    Attrs
	Digest   Digest
	Content  Digest
	Redacted bool
	Error    string
}

// Kind returns the part of the key before the first colon: "file",
// "package" …
func (it *Item) Kind() string { return KindOf(it.Key) }

// Name returns the part of the key after the first colon: a path, a package
// name …
func (it *Item) Name() string {
	_, name, _ := strings.Cut(it.Key, ":")
	return name
}

// KindOf returns the kind part of a key.
func KindOf(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// Key joins a kind and a name into an item key.
func Key(kind, name string) string { return kind + ":" + name }

// Equal reports whether two items describe the same state. Two nil items
// are equal; a nil and a non-nil one are not.
func (it *Item) Equal(o *Item) bool {
	if it == nil || o == nil {
		return it == o
	}
	if it.Key != o.Key || it.Source != o.Source || it.Digest != o.Digest || it.Content != o.Content ||
		it.Redacted != o.Redacted || it.Error != o.Error || len(it.Attrs) != len(o.Attrs) {
		return false
	}
	for i := range it.Attrs {
		if it.Attrs[i] != o.Attrs[i] {
			return false
		}
	}
	return true
}

// itemJSON is the JSON form of an Item. Key and attribute values that are
// not valid UTF-8 are written escaped for reading (invalid bytes as \xNN) and
// exactly, in base64, in KeyRaw and AttrsRaw.
type itemJSON struct {
	Key      string            `json:"key"`
	KeyRaw   string            `json:"key_raw,omitempty"`
	Source   string            `json:"source,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	AttrsRaw map[string]string `json:"attrs_raw,omitempty"`
	Digest   Digest            `json:"sha256,omitzero"`
	Content  Digest            `json:"content,omitzero"`
	Redacted bool              `json:"redacted,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// MarshalJSON writes the item as one JSON object with its attributes as a
// nested object in name order.
func (it Item) MarshalJSON() ([]byte, error) {
	return it.appendJSON(make([]byte, 0, 256)), nil
}

func (it *Item) appendJSON(b []byte) []byte {
	b = append(b, `{"key":`...)
	b, valid := appendStringValid(b, it.Key)
	if !valid {
		b = append(b, `,"key_raw":`...)
		b = appendString(b, base64.StdEncoding.EncodeToString([]byte(it.Key)))
	}
	if it.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, it.Source)
	}
	raw := false
	if len(it.Attrs) > 0 {
		b = append(b, `,"attrs":{`...)
		for i, a := range it.Attrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a.Name)
			b = append(b, ':')
			var ok bool
			if b, ok = appendStringValid(b, a.Value); !ok {
				raw = true
			}
		}
		b = append(b, '}')
	}
	if raw {
		b = append(b, `,"attrs_raw":{`...)
		first := true
		for _, a := range it.Attrs {
			if utf8.ValidString(a.Value) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, a.Name)
			b = append(b, ':')
			b = appendString(b, base64.StdEncoding.EncodeToString([]byte(a.Value)))
		}
		b = append(b, '}')
	}
	if !it.Digest.IsZero() {
		b = append(b, `,"sha256":"`...)
		b = hex.AppendEncode(b, it.Digest[:])
		b = append(b, '"')
	}
	if !it.Content.IsZero() {
		b = append(b, `,"content":"`...)
		b = hex.AppendEncode(b, it.Content[:])
		b = append(b, '"')
	}
	if it.Redacted {
		b = append(b, `,"redacted":true`...)
	}
	if it.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, it.Error)
	}
	return append(b, '}')
}

// UnmarshalJSON reads the form MarshalJSON writes, and any other JSON
// form of the same object.
func (it *Item) UnmarshalJSON(data []byte) error {
	// The form MarshalJSON writes, which is what agents send, is read by
	// the snapshot parser without a second pass of encoding/json; any
	// other form (spacing, attribute order, unknown fields, bytes that are
	// not UTF-8) is decoded generically, with its errors.
	if utf8.Valid(data) {
		var fast Item
		p := itemParser{}
		if p.parse(data, &fast) == nil {
			*it = fast
			return nil
		}
	}
	return it.unmarshalGeneric(data)
}

// unmarshalGeneric is UnmarshalJSON through encoding/json.
func (it *Item) unmarshalGeneric(data []byte) error {
	var j itemJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*it = Item{Key: j.Key, Source: j.Source, Digest: j.Digest, Content: j.Content, Redacted: j.Redacted, Error: j.Error}
	if j.KeyRaw != "" {
		raw, err := base64.StdEncoding.DecodeString(j.KeyRaw)
		if err != nil {
			return fmt.Errorf("item %s: key_raw: %w", j.Key, err)
		}
		it.Key = string(raw)
	}
	if len(j.Attrs) > 0 {
		it.Attrs = make(Attrs, 0, len(j.Attrs))
		for k, v := range j.Attrs {
			if r, ok := j.AttrsRaw[k]; ok {
				raw, err := base64.StdEncoding.DecodeString(r)
				if err != nil {
					return fmt.Errorf("item %s: attrs_raw.%s: %w", j.Key, k, err)
				}
				v = string(raw)
			}
			it.Attrs = append(it.Attrs, Attr{Name: k, Value: v})
		}
		it.Attrs = it.Attrs.Sort()
	}
	return nil
}

// EscapeBytes returns s unchanged when it is valid UTF-8, and otherwise with
// every byte that is not part of a valid UTF-8 sequence written as \xNN. It
// is the readable form of a host string; it is not reversible on its own.
func EscapeBytes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&sb, `\x%02x`, s[i])
			i++
			continue
		}
		sb.WriteString(s[i : i+size])
		i += size
	}
	return sb.String()
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as the canonical encoding writes a string.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// appendString appends s as a JSON string, with bytes that are not valid
// UTF-8 written as \xNN text (see EscapeBytes). HTML characters are not
// escaped, so the output matches encoding/json with SetEscapeHTML(false).
func appendString(b []byte, s string) []byte {
	b, _ = appendStringValid(b, s)
	return b
}

// appendStringValid is appendString that also reports whether s was valid
// UTF-8.
func appendStringValid(b []byte, s string) ([]byte, bool) {
	valid := true
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			valid = false
			b = append(b, s[start:i]...)
			b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			i++
			start = i
			continue
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), valid
}
