package ticket

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

func TestPackageRuleValidate(t *testing.T) {
	tests := []struct {
		name  string
		class Class
		rule  PackageRule
		want  []policy.Problem
	}{
		{"standing patch ticket", Standard, PackageRule{Manager: ManagerApt, Names: []string{"openssl*"}, Days: []string{"sat"}, Hours: "22:00-02:00"}, nil},
		{"any manager, anything", Standard, PackageRule{Manager: ManagerAny}, nil},
		{"not a standard change", Normal, PackageRule{Manager: ManagerDnf},
			[]policy.Problem{{Field: "packages", Message: `only a standard change has a package rule; this ticket's class is "normal"`}}},
		{"bad fields", Standard, PackageRule{Manager: "yum", Names: []string{" "}, Days: []string{"monday"}, Hours: "25:00-02:00"},
			[]policy.Problem{
				{Field: "packages.manager", Message: `"yum" is not a package manager: want "apt", "dnf" or "any"`},
				{Field: "packages.names[0]", Message: `want a package name or a glob such as "openssl*"`},
				{Field: "packages.days[0]", Message: `"monday" is not a weekday: want mon, tue, wed, thu, fri, sat or sun`},
				{Field: "packages.hours", Message: `"25:00-02:00" is not a time of day range: want HH:MM-HH:MM such as "01:00-05:00"`},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			s.Origin, s.Class = Internal, tt.class
			s.Scope.Items = nil // a package rule needs no item patterns
			rule := tt.rule
			s.Packages = &rule
			err := s.ValidateForSubmit()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid spec: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, ve.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPackageRuleMatch(t *testing.T) {
	r := PackageRule{Manager: ManagerApt, Names: []string{"openssl*", "lib?ssl*"}, Commands: []string{"apt-get install *", "apt-get upgrade*"},
		Days: []string{"sat", "sun"}, Hours: "22:00-02:00"}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tt := range []struct {
		what string
		got  bool
		want bool
	}{
		{"apt", r.MatchManager("apt"), true},
		{"dpkg", r.MatchManager("dpkg"), true},
		{"dnf", r.MatchManager("dnf"), false},
		{"openssl", r.MatchName("openssl") != "", true},
		{"libxssl3", r.MatchName("libxssl3") != "", true},
		{"curl", r.MatchName("curl") != "", false},
		{"install a local file", r.MatchCommand("apt-get install ./pkgs/x.deb"), true},
		{"remove", r.MatchCommand("apt-get remove openssl"), false},
		{"Saturday 23:00", r.MatchTime(time.Date(2025, 3, 8, 23, 0, 0, 0, berlin), berlin), true},
		{"Sunday 01:59", r.MatchTime(time.Date(2025, 3, 9, 1, 59, 0, 0, berlin), berlin), true},
		{"Saturday 21:59", r.MatchTime(time.Date(2025, 3, 8, 21, 59, 0, 0, berlin), berlin), false},
		{"Monday 23:00", r.MatchTime(time.Date(2025, 3, 10, 23, 0, 0, 0, berlin), berlin), false},
		{"wildcard star only", Wildcard("*", ""), true},
		{"wildcard backtracks", Wildcard("a*b*c", "axxbyybzc"), true},
		{"wildcard anchors", Wildcard("a*b", "axxbc"), false},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}
