package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// usersPage is the user list.
type usersPage struct {
	Page
	Query       string
	Users       []storage.User
	After, Next string
}

func (c *Console) userList(x *exchange) {
	search, after, ok := x.listQuery()
	if !ok {
		return
	}
	list, next, err := x.adm.QueryUsers(x.r.Context(), storage.UserQuery{Search: search, After: after, Limit: c.opts.PageSize})
	if err != nil {
		x.fail(err)
		return
	}
	x.render(http.StatusOK, "users", &usersPage{Page: Page{Title: "Users", Nav: "users"},
		Query: search, Users: list, After: after, Next: next})
}

// userForm is the user form as typed.
type userForm struct {
	Username, Name, Email string
	EmailVerified         bool
	// Roles are space- or comma-separated.
	Roles string
	// Password is kept only to tell the form it was given; it is never rendered back.
	Password string
}

var userFields = map[string]bool{"username": true, "name": true, "email": true, "email_verified": true,
	"roles": true, "password": true, "password_hash": true}

func (x *exchange) readUserForm() userForm {
	f := x.form
	return userForm{Username: f.Get("username"), Name: f.Get("name"), Email: f.Get("email"),
		EmailVerified: checked(f, "email_verified"), Roles: f.Get("roles"), Password: f.Get("password")}
}

// userNewPage is the new-user form.
type userNewPage struct {
	Page
	Form   userForm
	Errors fieldErrors
}

func (c *Console) userNewPage(x *exchange) {
	x.render(http.StatusOK, "user_new", &userNewPage{Page: Page{Title: "New user", Nav: "users"}})
}

func (c *Console) userCreate(x *exchange) {
	form := x.readUserForm()
	roles := listWords(form.Roles)
	u, generated, err := x.adm.CreateUser(x.r.Context(), admin.UserInput{Username: form.Username, Password: form.Password,
		Email: form.Email, EmailVerified: form.EmailVerified, Name: form.Name, Roles: roles})
	if err != nil {
		form.Password = ""
		p := &userNewPage{Page: Page{Title: "New user", Nav: "users"}, Form: form}
		status, ok := userFormError(err, roles, "created", &p.Page, &p.Errors)
		if !ok {
			x.fail(err)
			return
		}
		x.render(status, "user_new", p)
		return
	}
	f := flash{Message: "User " + u.Username + " was created."}
	if generated != "" {
		f.Secret, f.Label = generated, "Password of "+u.Username
		f.Note = "Give it to the user over a safe channel."
	}
	x.redirect(userURL(u.ID), f)
}

// userFormError puts the messages of a failed create or save of a user (what: "created" or
// "saved") on the page: field messages with 422, a taken username with 409. ok is false for
// any other error.
func userFormError(err error, roles []string, what string, page *Page, errs *fieldErrors) (status int, ok bool) {
	msg := "The user was not " + what + ": correct the fields marked below."
	if fe, general, valid := validationErrors(err, userFields, map[string][]string{"roles": roles}); valid {
		*errs, page.Error = fe, msg+" "+strings.Join(general, "; ")
		return http.StatusUnprocessableEntity, true
	}
	if errors.Is(err, storage.ErrConflict) {
		*errs, page.Error = fieldErrors{"username": {"This username is taken."}}, msg
		return http.StatusConflict, true
	}
	return 0, false
}

func userURL(id string) string { return pathUser + "?id=" + url.QueryEscape(id) }

// consentItem is a consent with its client's name.
type consentItem struct {
	storage.Consent
	ClientName string
}

// userPage is a user's page: the profile form, the account actions, and the user's
// sessions, consents and tokens.
type userPage struct {
	Page
	// Target is the user shown (Page.User is the signed-in administrator).
	Target storage.User
	Form   userForm
	Errors fieldErrors
	// Self is set when Target is the signed-in administrator.
	Self     bool
	Sessions []storage.Session
	// Current is the id of the console session of this page's request.
	Current  string
	Consents []consentItem
	Tokens   []storage.Token
	Now      time.Time
}

func formOfUser(u storage.User) userForm {
	return userForm{Username: u.Username, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified, Roles: strings.Join(u.Roles, " ")}
}

// loadUserPage fills p for the user ref (Form from the stored user unless set).
func (x *exchange) loadUserPage(ref string, p *userPage) error {
	ctx := x.r.Context()
	u, err := x.adm.GetUser(ctx, ref)
	if err != nil {
		return err
	}
	p.Title, p.Nav, p.Target, p.Self, p.Current, p.Now = "User "+u.Username, "users", u, u.ID == x.sess.user.ID, x.sess.ID, x.c.now()
	if p.Form == (userForm{}) {
		p.Form = formOfUser(u)
	}
	if p.Sessions, err = x.adm.ListSessions(ctx, u.ID); err != nil {
		return err
	}
	consents, err := x.adm.ListConsents(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, cn := range consents {
		item := consentItem{Consent: cn, ClientName: cn.ClientID}
		if cl, err := x.adm.GetClient(ctx, cn.ClientID); err == nil && cl.Name != "" {
			item.ClientName = cl.Name
		}
		p.Consents = append(p.Consents, item)
	}
	p.Tokens, err = x.adm.ListUserTokens(ctx, u.ID)
	return err
}

func (c *Console) userPage(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	p := &userPage{}
	if err := x.loadUserPage(id, p); err != nil {
		x.fail(err)
		return
	}
	x.render(http.StatusOK, "user", p)
}

// target loads the user a POST names (form field id) and answers 404 itself.
func (x *exchange) target() (storage.User, bool) {
	id, ok := x.param("id")
	if !ok {
		return storage.User{}, false
	}
	u, err := x.adm.GetUser(x.r.Context(), id)
	if err != nil {
		x.fail(err)
		return storage.User{}, false
	}
	return u, true
}

// refuseSelf shows the user's page with msg when u is the signed-in administrator, whom some
// actions would lock out of the console.
func (x *exchange) refuseSelf(u storage.User, msg string) bool {
	if u.ID != x.sess.user.ID {
		return false
	}
	p := &userPage{}
	if err := x.loadUserPage(u.ID, p); err != nil {
		x.fail(err)
		return true
	}
	p.Error = msg
	x.render(http.StatusConflict, "user", p)
	return true
}

func (c *Console) userUpdate(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	form := x.readUserForm()
	form.Password = ""
	roles := listWords(form.Roles)
	if u.ID == x.sess.user.ID && !contains(roles, RoleAdmin) {
		p := &userPage{Form: form}
		if err := x.loadUserPage(u.ID, p); err != nil {
			x.fail(err)
			return
		}
		p.Errors = fieldErrors{"roles": {"You cannot remove the admin role from your own account: you would lose access to the console. Ask another administrator."}}
		p.Error = "The user was not saved: correct the fields marked below."
		x.render(http.StatusUnprocessableEntity, "user", p)
		return
	}
	patch := admin.UserPatch{Username: &form.Username, Name: &form.Name, Email: &form.Email,
		EmailVerified: &form.EmailVerified, Roles: &roles}
	updated, err := x.adm.UpdateUser(x.r.Context(), u.ID, patch)
	if err != nil {
		p := &userPage{Form: form}
		status, ok := userFormError(err, roles, "saved", &p.Page, &p.Errors)
		if !ok {
			x.fail(err)
			return
		}
		if err := x.loadUserPage(u.ID, p); err != nil {
			x.fail(err)
			return
		}
		x.render(status, "user", p)
		return
	}
	x.redirect(userURL(u.ID), flash{Message: "User " + updated.Username + " was saved."})
}

func (c *Console) userStatus(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	ctx := x.r.Context()
	switch x.form.Get("op") {
	case "disable":
		if x.refuseSelf(u, "You cannot disable your own account while signed in with it. Ask another administrator.") {
			return
		}
		_, out, err := x.adm.DisableUser(ctx, u.ID)
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: fmt.Sprintf("User %s was disabled: %d session(s) ended, %d token(s) revoked.",
			u.Username, out.Sessions, out.Tokens)})
	case "enable":
		if _, err := x.adm.EnableUser(ctx, u.ID); err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: "User " + u.Username + " was enabled and can sign in again."})
	default:
		x.badRequest("Unknown operation.")
	}
}

func (c *Console) userPassword(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	// Resetting one's own password would end this session before the new password is shown.
	if x.refuseSelf(u, "You cannot reset your own password here: it would sign you out before the new password is shown. Ask another administrator.") {
		return
	}
	password, err := admin.NewPassword()
	if err != nil {
		x.fail(err)
		return
	}
	out, err := x.adm.SetPassword(x.r.Context(), u.ID, password)
	if err != nil {
		x.fail(err)
		return
	}
	x.redirect(userURL(u.ID), flash{
		Message: fmt.Sprintf("The password of %s was reset; %d browser session(s) were ended.", u.Username, out.Sessions),
		Secret:  password, Label: "New password of " + u.Username, Note: "Give it to the user over a safe channel."})
}

func (c *Console) userDeletePage(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	u, err := x.adm.GetUser(x.r.Context(), id)
	if err != nil {
		x.fail(err)
		return
	}
	p := &confirmPage{Page: Page{Title: "Delete user " + u.Username, Nav: "users"}, What: "the user " + u.Username,
		Action: pathUserDel, Field: "id", Value: u.ID, Cancel: userURL(u.ID),
		Consequences: []string{"The user's sessions and consents are deleted and the user's tokens revoked.",
			"The user ID (the subject of the user's tokens) is never reused."}}
	if u.Declared {
		p.Consequences = append(p.Consequences, "The user is declared in the configuration file, so it comes back at the next start unless removed there too.")
	}
	x.render(http.StatusOK, "confirm", p)
}

func (c *Console) userDelete(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	if x.refuseSelf(u, "You cannot delete your own account while signed in with it. Ask another administrator.") {
		return
	}
	if _, err := x.adm.DeleteUser(x.r.Context(), u.ID); err != nil {
		x.fail(err)
		return
	}
	x.redirect(pathUsers, flash{Message: "User " + u.Username + " was deleted."})
}

func (c *Console) userSessions(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	ctx := x.r.Context()
	switch x.form.Get("op") {
	case "revoke":
		sid, ok := x.param("session")
		if !ok {
			return
		}
		if err := x.adm.RevokeSession(ctx, u.ID, sid); err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: "The session was ended."})
	case "revoke_all":
		n, err := x.adm.RevokeSessions(ctx, u.ID)
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: fmt.Sprintf("%d session(s) of %s were ended.", n, u.Username)})
	default:
		x.badRequest("Unknown operation.")
	}
}

func (c *Console) userConsents(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	clientID, ok := x.param("client_id")
	if !ok {
		return
	}
	n, err := x.adm.RevokeConsent(x.r.Context(), u.ID, clientID)
	if err != nil {
		x.fail(err)
		return
	}
	x.redirect(userURL(u.ID), flash{Message: fmt.Sprintf("The consent of %s for %s was revoked; %d token(s) revoked.", u.Username, clientID, n)})
}

func (c *Console) userTokens(x *exchange) {
	u, ok := x.target()
	if !ok {
		return
	}
	ctx := x.r.Context()
	switch x.form.Get("op") {
	case "revoke":
		tid, ok := x.param("token")
		if !ok {
			return
		}
		t, err := x.adm.GetToken(ctx, tid)
		if err == nil && t.Subject != u.ID {
			err = fmt.Errorf("token of another user: %w", storage.ErrNotFound)
		}
		if err == nil {
			_, err = x.adm.RevokeToken(ctx, tid)
		}
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: "The token was revoked."})
	case "revoke_grant":
		gid, ok := x.param("grant")
		if !ok {
			return
		}
		// Only a grant of this user's (as listed on the page) is revoked here.
		tokens, err := x.adm.ListUserTokens(ctx, u.ID)
		if err != nil {
			x.fail(err)
			return
		}
		found := false
		for _, t := range tokens {
			found = found || t.GrantID == gid
		}
		if !found {
			x.fail(fmt.Errorf("grant of another user: %w", storage.ErrNotFound))
			return
		}
		n, err := x.adm.RevokeGrant(ctx, gid)
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: fmt.Sprintf("The grant was revoked: %d token(s).", n)})
	case "revoke_all":
		n, err := x.adm.RevokeUserTokens(ctx, u.ID)
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(userURL(u.ID), flash{Message: fmt.Sprintf("%d token(s) of %s were revoked.", n, u.Username)})
	default:
		x.badRequest("Unknown operation.")
	}
}
