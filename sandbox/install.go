package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Install walks an OAuth install the way a person does in a browser:
// installURL (an app's "start install" page, such as hlgate's
// /oauth/install) must redirect to this sandbox's consent page; Install
// loads the page, presses Allow for account ("location:<id>" or
// "company:<id>"), and follows the redirect back to the app's callback,
// which must answer 200. The demo and the end-to-end tests use it to install
// through the real code flow rather than by minting a code.
func Install(ctx context.Context, client *http.Client, installURL, account string) error {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Jar == nil {
		// A browser keeps the cookies the app sets at the start of the
		// install (hlgate binds its state to one) and sends them back on
		// the callback.
		jar, err := cookiejar.New(nil)
		if err != nil {
			return fmt.Errorf("install: cookie jar: %w", err)
		}
		c.Jar = jar
	}

	// 1. The app sends the browser to the consent page.
	resp, err := get(ctx, &c, installURL)
	if err != nil {
		return err
	}
	consent, err := redirectTarget(resp, installURL)
	if err != nil {
		return fmt.Errorf("install page: %w", err)
	}
	// 2. The consent page lists the locations.
	resp, err = get(ctx, &c, consent.String())
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consent page: %s: %s", resp.Status, page)
	}
	_, id, _ := strings.Cut(account, ":")
	if !strings.Contains(string(page), id) {
		return fmt.Errorf("consent page does not offer %s", account)
	}
	// 3. Allow: the form posts the authorization request back with the
	// chosen account.
	form := consent.Query()
	form.Set("account", account)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, consent.Scheme+"://"+consent.Host+consent.Path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return fmt.Errorf("allow: %w", err)
	}
	callback, err := redirectTarget(resp, consent.String())
	if err != nil {
		return fmt.Errorf("allow: %w", err)
	}
	// 4. The app's callback exchanges the code.
	resp, err = get(ctx, &c, callback.String())
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("callback: %s: %s", resp.Status, body)
	}
	return nil
}

func get(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return resp, nil
}

// redirectTarget reads (and closes) a redirect response.
func redirectTarget(resp *http.Response, from string) (*url.URL, error) {
	defer resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("want a redirect, got %s: %s", resp.Status, b)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("redirect without Location")
	}
	base, err := url.Parse(from)
	if err != nil {
		return nil, err
	}
	return base.Parse(loc)
}
