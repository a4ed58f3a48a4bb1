package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/web"
)

func init() {
	commands["user password"] = (*cli).userPassword
	commands["user signout"] = (*cli).userSignout
	moreUsage = append(moreUsage,
		"  driftwatch-collector user password -config FILE [-tenant NAME] -email EMAIL [-generate]   (password from stdin or DRIFTWATCH_PASSWORD)",
		"  driftwatch-collector user signout -config FILE [-tenant NAME] -email EMAIL")
}

// userFlags are the flags that name a user.
type userFlags struct {
	cfgPath, tenant, email string
}

func (c *cli) userFlagSet(name string, uf *userFlags) *flag.FlagSet {
	fs := c.flags(name, &uf.cfgPath)
	fs.StringVar(&uf.tenant, "tenant", "", "the user's tenant `NAME` (empty: an MSP-wide user)")
	fs.StringVar(&uf.email, "email", "", "the user's email `address` (required)")
	return fs
}

// findUser opens the store and finds the user the flags name.
func (c *cli) findUser(ctx context.Context, name string, uf userFlags) (store.Store, store.User, int) {
	if !strings.Contains(uf.email, "@") {
		fmt.Fprintf(c.stderr, "driftwatch-collector %s: -email %q is not an email address\n", name, uf.email)
		return nil, store.User{}, 2
	}
	st, _, code := c.openStore(ctx, uf.cfgPath)
	if st == nil {
		return nil, store.User{}, code
	}
	tenantID := ""
	if uf.tenant != "" {
		t, err := st.TenantByName(ctx, uf.tenant)
		if err != nil {
			st.Close()
			return nil, store.User{}, c.fail(fmt.Errorf("tenant %q: %w", uf.tenant, err))
		}
		tenantID = t.ID
	}
	u, err := st.UserByEmail(ctx, tenantID, uf.email)
	if errors.Is(err, store.ErrNotFound) {
		st.Close()
		where := "among the MSP-wide users"
		if uf.tenant != "" {
			where = "in tenant " + uf.tenant
		}
		return nil, store.User{}, c.fail(fmt.Errorf("no user %s %s; create it with \"user create\"", uf.email, where))
	}
	if err != nil {
		st.Close()
		return nil, store.User{}, c.fail(err)
	}
	return st, u, 0
}

// userPassword sets a user's web sign-in password, read from
// DRIFTWATCH_PASSWORD or the first line of stdin, or generated; it signs
// the user out of every session.
func (c *cli) userPassword(ctx context.Context, args []string) int {
	var uf userFlags
	fs := c.userFlagSet("user password", &uf)
	generate := fs.Bool("generate", false, "generate a random password and print it once")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	pw, err := c.newPassword(*generate)
	if err != nil {
		fmt.Fprintf(c.stderr, "driftwatch-collector user password: %v\n", err)
		return 2
	}
	if err := web.CheckPasswordStrength(pw); err != nil {
		fmt.Fprintf(c.stderr, "driftwatch-collector user password: %v\n", err)
		return 2
	}
	st, u, code := c.findUser(ctx, "user password", uf)
	if st == nil {
		return code
	}
	defer st.Close()
	hash, err := web.HashPassword(pw, web.DefaultPasswordParams)
	if err != nil {
		return c.fail(err)
	}
	ended, err := st.SetPassword(ctx, u.ID, hash, time.Now().UTC())
	if err != nil {
		return c.fail(err)
	}
	if logins, err := st.PasswordLogins(ctx, u.Email); err == nil && len(logins) > 1 {
		fmt.Fprintf(c.stderr, "note: %d accounts with email %s have a password; signing in opens the first whose password matches (the MSP-wide one first)\n", len(logins), u.Email)
	}
	if *generate {
		fmt.Fprintln(c.stdout, pw)
	}
	scope := "MSP-wide"
	if uf.tenant != "" {
		scope = "tenant " + uf.tenant
	}
	fmt.Fprintf(c.stderr, "password set for %s (%s, %s); %d session(s) ended\n", u.Email, u.Role, scope, ended)
	return 0
}

// generatedLength is the length of a generated password.
const generatedLength = 20

// newPassword returns the new password: generated, from
// DRIFTWATCH_PASSWORD, or the first line of stdin (asked for without echo
// when stdin is a terminal).
func (c *cli) newPassword(generate bool) (string, error) {
	if generate {
		const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		b := make([]byte, generatedLength)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return string(b), nil
	}
	if pw, ok := os.LookupEnv("DRIFTWATCH_PASSWORD"); ok {
		return pw, nil
	}
	tty := false
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && !isDevNull(fi) {
		tty = true
		fmt.Fprint(c.stderr, "New password: ")
		if setEcho(false) == nil {
			defer func() {
				_ = setEcho(true)
				fmt.Fprintln(c.stderr)
			}()
		}
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if tty {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return "", errors.New("give the password on stdin, in DRIFTWATCH_PASSWORD, or use -generate")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isDevNull reports whether fi is /dev/null, a character device that is
// no terminal.
func isDevNull(fi os.FileInfo) bool {
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}

// setEcho turns the terminal's echo on or off with stty.
func setEcho(on bool) error {
	arg := "-echo"
	if on {
		arg = "echo"
	}
	cmd := exec.Command("stty", arg)
	cmd.Stdin = os.Stdin
	return cmd.Run()
}

// userSignout ends every web session of a user.
func (c *cli) userSignout(ctx context.Context, args []string) int {
	var uf userFlags
	fs := c.userFlagSet("user signout", &uf)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, u, code := c.findUser(ctx, "user signout", uf)
	if st == nil {
		return code
	}
	defer st.Close()
	n, err := st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%d session(s) of %s ended\n", n, u.Email)
	return 0
}
