package module

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wardrt/ward/internal/errs"
)

// DefaultTimeout bounds a URL source's request, body included, unless
// Timeout says otherwise.
const DefaultTimeout = 30 * time.Second

// A URLOption configures a URL source.
type URLOption func(*urlSource)

// Client makes the requests with c rather than http.DefaultClient: for
// TLS settings (a private CA), a proxy, or a test server's client.
func Client(c *http.Client) URLOption { return func(s *urlSource) { s.client = c } }

// Timeout bounds each Open, from the request to the body's last byte
// (default DefaultTimeout); 0 or less leaves only the ctx of Open.
func Timeout(d time.Duration) URLOption { return func(s *urlSource) { s.timeout = d } }

// URL is a module fetched with an HTTP GET from rawURL, which must be
// http or https. A response other than 2xx is an error naming the status;
// a Content-Length over the limit is refused before the body is read, and
// a body that runs past it is cut off there. ctx cancels the request and
// the read of the body.
func URL(rawURL string, opts ...URLOption) Source {
	s := &urlSource{raw: rawURL, client: http.DefaultClient, timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	s.u, s.err = url.Parse(rawURL)
	switch {
	case s.err != nil:
		s.name = rawURL
	case s.u.Scheme != "http" && s.u.Scheme != "https":
		s.name = logName(s.u)
		s.err = fmt.Errorf("scheme %q is not http or https", s.u.Scheme)
	default:
		s.name = logName(s.u)
	}
	return s
}

// logName is u without its password, query or fragment, which may hold
// credentials (a pre-signed URL's signature, a token).
func logName(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	return c.Redacted()
}

type urlSource struct {
	raw, name string
	u         *url.URL
	err       error // from parsing rawURL, reported by Open
	client    *http.Client
	timeout   time.Duration
}

func (s *urlSource) Name() string { return s.name }

func (s *urlSource) Open(ctx context.Context, limit int64) ([]byte, error) {
	if s.err != nil {
		return nil, fmt.Errorf("ward: fetching module %s: %v", s.name, s.err)
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.u.String(), nil)
	if err != nil {
		return nil, errs.Wrap(err, "fetching module %s", s.name)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, errs.Wrap(ctxErr, "fetching module %s", s.name)
		}
		return nil, errs.Wrap(err, "fetching module %s", s.name)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("ward: fetching module %s: HTTP status %s", s.name, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, errs.Errorf("ward: fetching module %s: %w: Content-Length %d is more than the limit of %d bytes", s.name, ErrTooLarge, resp.ContentLength, limit)
	}
	return readLimited(ctx, s.name, resp.Body, limit)
}
