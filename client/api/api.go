// Package api is the client of the tracker's catalog API (proto.Path*): it
// reads the tracker's info, searches and fetches tracks and their .torrent
// files, and publishes and unpublishes tracks with a bearer token. Every
// failure the server reports comes back as an *Error that carries the HTTP
// status and the server's {"error"} message.
package api

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

	"github.com/peertune/peertune/proto"
)

// ErrNoToken: a request that needs a publisher's token was made by a client
// without one.
var ErrNoToken = errors.New("no publishing token given")

// Limits on what the client reads from the server, so that a broken or
// hostile tracker cannot make it allocate without bound.
const (
	maxJSONBody    = 16 << 20
	maxTorrentBody = 16 << 20
	maxErrorBody   = 64 << 10
)

// Error is a failure answered by the server (a 4xx or 5xx status).
type Error struct {
	Method  string
	URL     string
	Status  int    // HTTP status code
	Message string // the server's {"error": …} message, or the start of its body
	Code    string // the server's {"code": …}, if any (proto.ErrorCode…)
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, msg)
}

// StatusOf returns the HTTP status of err if it is (or wraps) an *Error,
// and 0 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsTakenDown reports whether err is the server's refusal to publish a
// track its admins took down.
func IsTakenDown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Code == proto.ErrorCodeTakenDown
}

// Client talks to one tracker's catalog API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token used by Publish and Delete.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the default HTTP client (30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for the tracker at baseURL (e.g. http://127.0.0.1:6969).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("tracker URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("tracker URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("tracker URL %q: no host", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the tracker's base URL as given to New (without a trailing slash).
func (c *Client) BaseURL() *url.URL { u := *c.base; return &u }

func (c *Client) url(path string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String()
}

// do sends a request and returns the response if its status is 2xx;
// otherwise it returns an *Error and closes the body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, auth bool) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.url(path, query)
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		if c.token == "" {
			return nil, fmt.Errorf("%s %s: %w", method, u, ErrNoToken)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Method: method, URL: u, Status: resp.StatusCode}
	var pe proto.Error
	if json.Unmarshal(raw, &pe) == nil && pe.Error != "" {
		e.Message, e.Code = pe.Error, pe.Code
	} else {
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return nil, e
}

func (c *Client) getJSON(ctx context.Context, method, path string, query url.Values, body any, auth bool, out any) (int, error) {
	resp, err := c.do(ctx, method, path, query, body, auth)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSONBody))
		return resp.StatusCode, nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody))
	if err := dec.Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decoding answer: %w", method, c.url(path, query), err)
	}
	return resp.StatusCode, nil
}

// Info returns GET /api/v1/info: the tracker's announce URLs and version.
func (c *Client) Info(ctx context.Context) (proto.Info, error) {
	var info proto.Info
	_, err := c.getJSON(ctx, http.MethodGet, proto.PathInfo, nil, nil, false, &info)
	return info, err
}

// Search returns GET /api/v1/tracks?q=query&limit=&offset=. An empty query
// lists every track; limit 0 means the server's default.
func (c *Client) Search(ctx context.Context, query string, limit, offset int) (proto.TrackList, error) {
	var list proto.TrackList
	_, err := c.getJSON(ctx, http.MethodGet, proto.PathTracks, pageQuery(query, limit, offset), nil, false, &list)
	return list, err
}

// pageQuery is the query of a listing: q, limit and offset when set.
func pageQuery(query string, limit, offset int) url.Values {
	q := url.Values{}
	if query != "" {
		q.Set("q", query)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

// Albums returns GET /api/v1/albums?q=query&limit=&offset=: the albums
// whose artist, album artist or name match (every album for an empty
// query); limit 0 means the server's default.
func (c *Client) Albums(ctx context.Context, query string, limit, offset int) (proto.AlbumList, error) {
	var list proto.AlbumList
	_, err := c.getJSON(ctx, http.MethodGet, proto.PathAlbums, pageQuery(query, limit, offset), nil, false, &list)
	return list, err
}

// Album returns GET /api/v1/albums/{id}: the album and its tracks in order.
func (c *Client) Album(ctx context.Context, id string) (proto.AlbumTracks, error) {
	var a proto.AlbumTracks
	canon, err := proto.ParseAlbumID(id)
	if err != nil {
		return a, err
	}
	_, err = c.getJSON(ctx, http.MethodGet, proto.PathAlbums+"/"+canon, nil, nil, false, &a)
	return a, err
}

// All lists every track of the catalog, page by page (at most maxTracks).
func (c *Client) All(ctx context.Context, maxTracks int) ([]proto.Track, error) {
	var all []proto.Track
	for len(all) < maxTracks {
		page, err := c.Search(ctx, "", proto.MaxLimit, len(all))
		if err != nil {
			return all, err
		}
		all = append(all, page.Tracks...)
		if len(page.Tracks) == 0 || len(all) >= page.Total {
			break
		}
	}
	return all, nil
}

func trackPath(id string) (string, error) {
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return "", err
	}
	return proto.PathTrackPrefix + canon, nil
}

// Get returns GET /api/v1/tracks/{id}.
func (c *Client) Get(ctx context.Context, id string) (proto.Track, error) {
	var t proto.Track
	p, err := trackPath(id)
	if err != nil {
		return t, err
	}
	_, err = c.getJSON(ctx, http.MethodGet, p, nil, nil, false, &t)
	return t, err
}

// Torrent returns the raw .torrent of GET /api/v1/tracks/{id}/torrent.
func (c *Client) Torrent(ctx context.Context, id string) ([]byte, error) {
	p, err := trackPath(id)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodGet, p+"/torrent", nil, nil, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTorrentBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s/torrent: %w", p, err)
	}
	if len(b) > maxTorrentBody {
		return nil, fmt.Errorf("GET %s/torrent: larger than %d bytes", p, maxTorrentBody)
	}
	return b, nil
}

// Publish posts req to POST /api/v1/tracks with the client's token. It
// returns the catalog's Track and whether the track was new (201) rather
// than already there (200).
func (c *Client) Publish(ctx context.Context, req proto.PublishRequest) (proto.Track, bool, error) {
	var t proto.Track
	status, err := c.getJSON(ctx, http.MethodPost, proto.PathTracks, nil, req, true, &t)
	return t, status == http.StatusCreated, err
}

// Delete unpublishes a track (DELETE /api/v1/tracks/{id}) with the client's
// token.
func (c *Client) Delete(ctx context.Context, id string) error {
	p, err := trackPath(id)
	if err != nil {
		return err
	}
	_, err = c.getJSON(ctx, http.MethodDelete, p, nil, nil, true, nil)
	return err
}
