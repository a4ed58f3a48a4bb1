package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Limits of the HTTP client.
const (
	// maxBody is the largest response read.
	maxBody = 32 << 20
	// maxRetryWait is the longest Retry-After the client waits out by
	// itself; a longer one ends the poll with a *RateLimitError.
	maxRetryWait = 5 * time.Minute
	// maxRetries is how often one request is retried after a 429.
	maxRetries = 3
	// defaultRetryWait is the wait after a 429 without Retry-After.
	defaultRetryWait = 30 * time.Second
)

// Sleeper waits for d or until ctx is done, returning ctx.Err() then.
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep is the real Sleeper.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options are what every connector kind shares beside its configuration.
type Options struct {
	// HTTP is the client requests go through; http.DefaultClient when nil.
	HTTP *http.Client
	// Sleep waits out a 429's Retry-After; Sleep when nil.
	Sleep Sleeper
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives one line per failed request, without credentials; nil
	// logs nothing.
	Log *zap.Logger
}

func (o Options) httpClient() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return http.DefaultClient
}

func (o Options) sleep(ctx context.Context, d time.Duration) error {
	if o.Sleep != nil {
		return o.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o Options) log() *zap.Logger {
	if o.Log == nil {
		return zap.NewNop()
	}
	return o.Log
}

// client sends a connector's requests: it sets authentication, waits out
// short 429s, turns 401/403 into ErrAuth and keeps credentials out of
// every error and log line.
type client struct {
	opts  Options
	name  string
	creds Credentials
	// auth sets a request's authentication.
	auth func(*http.Request)
}

// request is one API call.
type request struct {
	method string
	url    string
	body   any // JSON-encoded when not nil
	header http.Header
	// allowNotFound makes a 404 return errNotFound.
	allowNotFound bool
}

// errNotFound is a 404 for a request that allows it.
var errNotFound = errors.New("not found")

// do sends the request and decodes a 2xx JSON response into out; the
// response header is returned for paging links.
func (c *client) do(ctx context.Context, r request, out any) (http.Header, error) {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request to %s: %w", c.name, redactURL(r.url), err)
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: request %s: %s", c.name, redactURL(r.url), c.creds.redact(err.Error()))
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, vs := range r.header {
			req.Header[k] = vs
		}
		if c.auth != nil {
			c.auth(req)
		}
		resp, err := c.opts.httpClient().Do(req)
		if err != nil {
			msg := c.creds.redact(err.Error())
			c.opts.log().Warn("connector request failed", zap.String("connector", c.name), zap.String("url", redactURL(r.url)), zap.String("error", msg))
			return nil, fmt.Errorf("%s: %s %s: %s", c.name, r.method, redactURL(r.url), msg)
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if rerr == nil && len(data) > maxBody {
			rerr = fmt.Errorf("response larger than %d bytes", maxBody)
		}
		where := fmt.Sprintf("%s: %s %s", c.name, r.method, redactURL(r.url))
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := retryAfter(resp.Header.Get("Retry-After"), c.opts.now())
			c.opts.log().Info("connector rate limited", zap.String("connector", c.name), zap.String("url", redactURL(r.url)), zap.Duration("retry_after", wait))
			if attempt >= maxRetries || wait > maxRetryWait {
				return nil, fmt.Errorf("%s: %w", where, &RateLimitError{RetryAfter: wait, URL: redactURL(r.url)})
			}
			if err := c.opts.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("%s: wait out rate limit: %w", where, err)
			}
			continue
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			msg := fmt.Sprintf("%s: %s: %s", where, resp.Status, c.creds.redact(snippet(data)))
			c.opts.log().Warn("connector credentials refused", zap.String("connector", c.name), zap.String("url", redactURL(r.url)), zap.Int("status", resp.StatusCode))
			return nil, fmt.Errorf("%w: %s", ErrAuth, msg)
		case resp.StatusCode == http.StatusNotFound && r.allowNotFound:
			return nil, errNotFound
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			msg := fmt.Sprintf("%s: %s: %s", where, resp.Status, c.creds.redact(snippet(data)))
			c.opts.log().Warn("connector request failed", zap.String("connector", c.name), zap.String("url", redactURL(r.url)), zap.Int("status", resp.StatusCode))
			return nil, fmt.Errorf("%s", msg)
		case rerr != nil:
			return nil, fmt.Errorf("%s: read response: %w", where, rerr)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("%s: decode response: %w", where, err)
			}
		}
		return resp.Header, nil
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultRetryWait
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return defaultRetryWait
}

// snippet is the start of a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redactURL drops user info from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

// joinURL appends an API path to a base URL.
func joinURL(base, p string, q url.Values) string {
	s := strings.TrimRight(base, "/") + p
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}
