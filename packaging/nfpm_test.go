package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// Every file of this directory that a package definition names exists: a
// renamed script or unit fails here, not in the middle of a release.
func TestPackageDefinitionsNameExistingFiles(t *testing.T) {
	// nfpm resolves these against a work directory where packaging/ is
	// this directory (scripts/package.sh).
	ref := regexp.MustCompile(`(?m)^\s*(?:- )?(?:src|postinstall|preinstall|preremove|postremove): packaging/(\S+)$`)
	for _, def := range []string{"nfpm-agent.yaml", "nfpm-collector.yaml"} {
		b, err := os.ReadFile(def)
		if err != nil {
			t.Fatal(err)
		}
		refs := ref.FindAllSubmatch(b, -1)
		if len(refs) < 5 {
			t.Fatalf("%s: found %d references to packaging/ files, want the config, unit, copyright, overrides and scripts", def, len(refs))
		}
		for _, m := range refs {
			if _, err := os.Stat(string(m[1])); err != nil {
				t.Errorf("%s names packaging/%s: %v", def, m[1], err)
			}
		}
	}
}

// The maintainer scripts are shell scripts that sh -n accepts.
func TestMaintainerScriptsParse(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("scripts", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 13 {
		t.Fatalf("found %d maintainer scripts, want 13 (deb postinst, prerm, postrm and rpm post, preun, postun for each package, rpm pre for the collector)", len(scripts))
	}
	for _, s := range scripts {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}

// scripts/package.sh adapts the definitions per format by their lines
// (for_format): the lines it looks for are there.
func TestPackageDefinitionsFitPackageScript(t *testing.T) {
	for _, def := range []string{"nfpm-agent.yaml", "nfpm-collector.yaml"} {
		b, err := os.ReadFile(def)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^changelog: changelog\.yml$`),
			// The synopsis, then the first paragraph.
			regexp.MustCompile(`(?m)^description: \|-\n  \S.*\n  \S`),
			// Paragraphs separated by " ." as in a Debian control file.
			regexp.MustCompile(`(?m)^  \.$`),
		} {
			if !line.Match(b) {
				t.Errorf("%s has no line matching %s", def, line)
			}
		}
	}
}
