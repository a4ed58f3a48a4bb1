package baseline

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// itemForms are items in the form MarshalJSON writes (read by the fast
// parser) and in other JSON forms of the same object (read generically).
func itemForms(t testing.TB) []string {
	t.Helper()
	items := []Item{
		{Key: "file:/etc/hosts", Source: "files", Attrs: Attrs{{"mode", "0644"}, {"owner", "root"}}, Digest: Sum([]byte("a"))},
		{Key: "file:/etc/\x80odd\tname \"q\" \\", Source: "files", Attrs: Attrs{{"target", "\xffx"}}, Content: Sum([]byte("c"))},
		{Key: "sysctl:net.ipv4.ip_forward", Source: "sysctl", Attrs: Attrs{{"value", "1"}}, Redacted: true},
		{Key: "pkg:openssl", Source: "packages", Error: "read \u00e9chec: permission denied \u2028"},
		{Key: "file:/x"},
	}
	var forms []string
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		forms = append(forms, string(b))
	}
	return append(forms,
		`{ "key": "file:/a", "attrs": {"mode": "0600"} }`,
		`{"key":"file:/a","attrs":{"owner":"root","mode":"0600"}}`,
		`{"key":"file:/a","future_field":[1,2]}`,
		`{"key":"file:/a","sha256":"`+Sum([]byte("z")).String()+`","key":"file:/b"}`,
		`{"key":"file:/\u00e9\ud83d\ude00"}`,
		`{"key":"`+"\xe9"+`"}`,
		`{"key":"file:/a","redacted":false}`,
	)
}

// TestItemUnmarshalForms: every form decodes to what encoding/json makes
// of it, whichever path reads it.
func TestItemUnmarshalForms(t *testing.T) {
	for _, form := range itemForms(t) {
		var fast, generic Item
		errFast := fast.UnmarshalJSON([]byte(form))
		errGeneric := generic.unmarshalGeneric([]byte(form))
		if (errFast != nil) != (errGeneric != nil) {
			t.Errorf("%s: error %v, generically %v", form, errFast, errGeneric)
			continue
		}
		if !reflect.DeepEqual(fast, generic) {
			t.Errorf("%s:\n got %#v\nwant %#v", form, fast, generic)
		}
	}
	// The fast path reads what MarshalJSON writes, and gives it back;
	// UnmarshalJSON takes it (with fewer allocations than encoding/json:
	// 12 against 22 for this item) rather than decoding generically.
	it := Item{Key: "file:/etc/ssh/sshd_config", Source: "files", Attrs: Attrs{{"mode", "0600"}, {"owner", "root"}}, Digest: Sum([]byte("s"))}
	b, _ := json.Marshal(it)
	var back Item
	if p := (itemParser{}); p.parse(b, &back) != nil || !reflect.DeepEqual(back, it) {
		t.Errorf("the fast parser does not read %s back", b)
	}
	fast := testing.AllocsPerRun(100, func() { _ = back.UnmarshalJSON(b) })
	generic := testing.AllocsPerRun(100, func() { _ = back.unmarshalGeneric(b) })
	if fast >= generic {
		t.Errorf("UnmarshalJSON of the canonical form allocates %v times, encoding/json %v: the fast path is not taken", fast, generic)
	}
}

// FuzzItemUnmarshal: whatever the fast parser accepts, encoding/json
// reads the same way.
func FuzzItemUnmarshal(f *testing.F) {
	for _, form := range itemForms(f) {
		f.Add([]byte(form))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, generic Item
		if err := fast.UnmarshalJSON(data); err != nil {
			return
		}
		if err := generic.unmarshalGeneric(data); err != nil {
			t.Fatalf("%q: read by UnmarshalJSON, refused generically: %v", data, err)
		}
		if !reflect.DeepEqual(fast, generic) {
			t.Fatalf("%q:\n got %#v\nwant %#v", data, fast, generic)
		}
	})
}

// TestSnapshotItemFieldTwice: a snapshot whose item line gives a field
// twice is not in canonical form and is read generically, not refused.
func TestSnapshotItemFieldTwice(t *testing.T) {
	s := &Snapshot{Format: FormatVersion, Host: Host{Name: "web-01"}, Items: []Item{
		{Key: "file:/etc/a", Source: "files", Digest: Sum([]byte("a"))},
		{Key: "file:/etc/b", Source: "files", Digest: Sum([]byte("b"))},
	}}
	s.Sort()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	twice := bytes.Replace(b, []byte(`"source":"files"`), []byte(`"source":"old","source":"files"`), 1)
	if bytes.Equal(twice, b) {
		t.Fatalf("no source field in %s", b)
	}
	got, err := Unmarshal(twice)
	if err != nil {
		t.Fatalf("a field given twice: %v", err)
	}
	if len(got.Items) != 2 || got.Items[0].Source != "files" {
		t.Errorf("items read back: %+v", got.Items)
	}
}
