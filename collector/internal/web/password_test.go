package web

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery staple", DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not record argon2id and its parameters", h)
	}
	h2, err := HashPassword("correct horse battery staple", DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapler", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		ok, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("verify %q: %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	// A hash made with other parameters is checked with its own.
	cheap, err := HashPassword("pw", PasswordParams{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(cheap, "pw"); !ok || err != nil {
		t.Errorf("verify with the hash's own parameters: %v, %v", ok, err)
	}
}

func TestPasswordHashRefused(t *testing.T) {
	for _, bad := range []string{
		"",
		"plaintext",
		"$2a$10$abcdefghijklmnopqrstuv",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$short",
	} {
		if ok, err := VerifyPassword(bad, "pw"); ok || err == nil {
			t.Errorf("verify against %q: %v, %v; want an error", bad, ok, err)
		}
	}
	if _, err := HashPassword("pw", PasswordParams{}); err == nil {
		t.Error("hash with zero parameters: no error")
	}
}

func TestPasswordStrength(t *testing.T) {
	for _, tt := range []struct {
		pw   string
		want string
	}{
		{"correct horse battery staple", ""},
		{"short", "at least 12"},
		{"ünïcödé-pässwörd", ""},
		{" leading space pw", "white space"},
		{strings.Repeat("x", MaxPasswordBytes+1), "longer than"},
		{"\xff\xfe invalid utf-8 pw", "UTF-8"},
	} {
		err := CheckPasswordStrength(tt.pw)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.pw, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want an error with %q", tt.pw, err, tt.want)
		}
	}
}
