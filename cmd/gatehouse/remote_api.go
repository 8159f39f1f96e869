package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// remoteTimeout bounds one admin API request, from connecting to reading the answer.
const remoteTimeout = 2 * time.Minute

// remoteManager sends the operations to a running server's admin API. The server acts on its
// own database, with its own configuration, and records the admin token as the actor.
type remoteManager struct {
	*adminapi.Client
}

var _ manager = remoteManager{}

// newRemoteManager returns the manager that sends operations to the admin API at r. Redirects
// are not followed: the token would follow them, perhaps to plain http.
func newRemoteManager(r *remote) (manager, error) {
	hc := &http.Client{
		Timeout: remoteTimeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return &redirectError{to: req.URL.Redacted()}
		},
	}
	return remoteManager{adminapi.NewClient(r.url.String(), r.token, hc)}, nil
}

// redirectError refuses a redirect of the admin API.
type redirectError struct{ to string }

func (e *redirectError) Error() string {
	return "the admin API answered with a redirect to " + e.to + ", which is not followed (the token would go along): " +
		"give the URL to use with --admin-url"
}

// apiDescription returns the server's description of a not-found or conflict answer of the
// admin API: the text the local mode prints for the same error (see shown).
func apiDescription(err error) (string, bool) {
	e, ok := errors.AsType[*adminapi.Error](err)
	if !ok || e.Description == "" {
		return "", false
	}
	switch e.Code {
	case adminapi.CodeNotFound, adminapi.CodeConflict, adminapi.CodePreconditionFailed:
		return e.Description, true
	}
	return "", false
}

// remoteError says what went wrong in remote mode when the server did not answer the
// operation itself: it could not be reached, redirected, refused the token, or answered
// something else than the admin API would. Answers about the operation (invalid input, not
// found, conflict) are left to shown.
func remoteError(r *remote, err error) error {
	if err == nil {
		return nil
	}
	base := r.url.Redacted()
	if re, ok := errors.AsType[*redirectError](err); ok {
		return &shownError{msg: re.Error(), err: err}
	}
	e, ok := errors.AsType[*adminapi.Error](err)
	if !ok {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return &shownError{msg: fmt.Sprintf("admin API at %s unreachable: %v", base, ue.Err), err: err}
		}
		return err
	}
	status := fmt.Sprintf("%d %s", e.Status, e.Code)
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return &shownError{msg: fmt.Sprintf("the admin API at %s refused the token: %s (%s)", base, e.Description, status), err: err}
	case e.Code == adminapi.CodeNotFound && e.Description == noRoute:
		return &shownError{msg: fmt.Sprintf("the admin API at %s does not offer this operation (%s): is the server older than this command?",
			base, status), err: err}
	case e.Code == "http_error":
		return &shownError{msg: fmt.Sprintf("%s did not answer as an admin API (%s): is the URL the server's admin listener? %s",
			base, strconv.Itoa(e.Status)+" "+http.StatusText(e.Status), e.Description), err: err}
	}
	if _, ok := apiDescription(err); ok {
		return err
	}
	if _, ok := errors.AsType[admin.ValidationErrors](err); ok {
		return err
	}
	return &shownError{msg: fmt.Sprintf("the admin API at %s: %s (%s)", base, e.Description, status), err: err}
}

// noRoute is the admin API's description of a path it does not serve.
const noRoute = "no such API route"

// ListClients reads every page.
func (m remoteManager) ListClients(ctx context.Context) ([]storage.Client, error) {
	return m.Client.AllClients(ctx, "")
}

// ListUsers reads every page.
func (m remoteManager) ListUsers(ctx context.Context) ([]storage.User, error) {
	return m.Client.AllUsers(ctx, "")
}

// SetPassword sets the given password (the command generates one when none was given, in
// either mode).
func (m remoteManager) SetPassword(ctx context.Context, ref, password string) (admin.Signout, error) {
	if password == "" {
		return admin.Signout{}, errors.New("set password: no password")
	}
	out, _, err := m.Client.SetPassword(ctx, ref, password)
	return out, err
}

// RotateKey lets the server pick the algorithm (when alg is "") and how long the previous key
// stays published: it knows the token lifetimes.
func (m remoteManager) RotateKey(ctx context.Context, alg string) (admin.KeyInfo, time.Duration, error) {
	return m.Client.RotateKey(ctx, alg, 0)
}
