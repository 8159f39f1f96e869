package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func (c *cli) usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "Manage the users of the built-in user store",
		Long: "Manage the users who sign in on Gatehouse's login page. A user is named by its ID or its\n" +
			"username in every command. Usernames are lower-cased.",
	}
	cmd.AddCommand(c.usersCreateCmd(), c.usersListCmd(), c.usersGetCmd(), c.usersUpdateCmd(),
		c.usersSetPasswordCmd(), c.usersDisableCmd(), c.usersEnableCmd(), c.usersDeleteCmd())
	return cmd
}

// passwordFlags are --password and --password-stdin.
type passwordFlags struct {
	password string
	stdin    bool
}

func (f *passwordFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.password, "password", "", "the password (visible to other local users and kept in the shell history: prefer --password-stdin)")
	fs.BoolVar(&f.stdin, "password-stdin", false, "read the password from standard input (its first line)")
}

// maxPasswordInput bounds what --password-stdin reads.
const maxPasswordInput = 4096

// errPasswordFlags: both ways of giving a password at once.
var errPasswordFlags = errors.New("--password and --password-stdin are mutually exclusive")

// read returns the password given by the flags, or "" when none was.
func (f *passwordFlags) read(cmd *cobra.Command, stderr io.Writer) (string, error) {
	switch {
	case f.stdin && cmd.Flags().Changed("password"):
		return "", errPasswordFlags
	case f.stdin:
		data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxPasswordInput+1))
		if err != nil {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		if len(data) > maxPasswordInput {
			return "", errors.New("the password on standard input is too long")
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", errors.New("--password-stdin: standard input holds no password")
		}
		return line, nil
	case cmd.Flags().Changed("password"):
		fmt.Fprintln(stderr, "warning: a password on the command line can be seen by other users of this machine; prefer --password-stdin")
		if f.password == "" {
			return "", errors.New("--password is empty")
		}
		return f.password, nil
	}
	return "", nil
}

// userFlags are the profile flags of users create and users update.
type userFlags struct {
	username, email, name string
	emailVerified         bool
	roles                 []string
}

func (f *userFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.username, "username", "", "username: 1 to 64 of a-z 0-9 . _ @ + - (upper case is lowered)")
	fs.StringVar(&f.email, "email", "", "email address")
	fs.BoolVar(&f.emailVerified, "email-verified", false, "the email address is known to be the user's (the email_verified claim)")
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringSliceVar(&f.roles, "role", nil, `roles ("a b", a,b or repeated)`)
}

func (c *cli) usersCreateCmd() *cobra.Command {
	var (
		f    userFlags
		pw   passwordFlags
		hash string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Add a user; without a password, one is generated and printed once",
		Example: `  gatehouse users create --username alice --email alice@example.com --name "Alice Liddell"
  printf %s "$PASSWORD" | gatehouse users create --username bob --password-stdin --role admin
  gatehouse users create --username carol --password-hash '$2y$10$…'   # imported bcrypt hash`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, err := pw.read(cmd, c.stderr)
			if err != nil {
				return err
			}
			in := admin.UserInput{Username: f.username, Password: password, PasswordHash: hash, Email: f.email,
				EmailVerified: f.emailVerified, Name: f.name, Roles: splitList(f.roles)}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, generated, err := adm.CreateUser(ctx, in)
				if err != nil {
					return err
				}
				return c.printUserWithPassword(u, generated, fmt.Sprintf("Created user %s (ID %s).", u.Username, u.ID))
			})
		},
	}
	f.register(cmd.Flags())
	pw.register(cmd.Flags())
	cmd.Flags().StringVar(&hash, "password-hash", "", "an imported argon2id or bcrypt hash (bcrypt is rehashed to argon2id at the next sign-in)")
	_ = cmd.MarkFlagRequired("username")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin", "password-hash")
	return cmd
}

func (c *cli) usersListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				list, err := adm.ListUsers(ctx)
				if err != nil {
					return err
				}
				return printList(c, list, newUserView, "No users. Create one with: gatehouse users create --help",
					"ID\tUSERNAME\tNAME\tEMAIL\tROLES\tSTATUS", func(u storage.User) []string {
						return []string{u.ID, u.Username, orDash(u.Name), orDash(u.Email), orDash(strings.Join(u.Roles, ",")), userStatus(u)}
					})
			})
		},
	}
}

func (c *cli) usersGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID|USERNAME",
		Short: "Show a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, err := adm.GetUser(ctx, args[0])
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(newUserView(u))
				}
				return writeUser(c.stdout, u)
			})
		},
	}
}

func (c *cli) usersUpdateCmd() *cobra.Command {
	var f userFlags
	cmd := &cobra.Command{
		Use:     "update ID|USERNAME",
		Short:   "Change a user's username, email, name or roles (--role replaces the list)",
		Example: `  gatehouse users update alice --email alice@example.org --role admin,ops`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			patch := f.patch(cmd.Flags())
			if patch.Empty() {
				return errNothingToUpdate
			}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, err := adm.UpdateUser(ctx, args[0], patch)
				if err != nil {
					return err
				}
				c.declaredNote(u, "username, email and name")
				return c.printUserWithPassword(u, "", "Updated user "+u.Username+".")
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func (f *userFlags) patch(fs *pflag.FlagSet) admin.UserPatch {
	var p admin.UserPatch
	if fs.Changed("username") {
		p.Username = &f.username
	}
	if fs.Changed("email") {
		p.Email = &f.email
	}
	if fs.Changed("email-verified") {
		p.EmailVerified = &f.emailVerified
	}
	if fs.Changed("name") {
		p.Name = &f.name
	}
	if fs.Changed("role") {
		roles := splitList(f.roles)
		p.Roles = &roles
	}
	return p
}

func (c *cli) usersSetPasswordCmd() *cobra.Command {
	var pw passwordFlags
	cmd := &cobra.Command{
		Use:   "set-password ID|USERNAME",
		Short: "Replace a user's password and end the user's browser sessions; without a password, one is generated",
		Example: `  printf %s "$PASSWORD" | gatehouse users set-password alice --password-stdin
  gatehouse users set-password alice     # prints a generated password`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := pw.read(cmd, c.stderr)
			if err != nil {
				return err
			}
			generated := ""
			if password == "" {
				if password, err = admin.NewPassword(); err != nil {
					return err
				}
				generated = password
			}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				// The user first, as the admin API does: an unknown user is reported as such
				// whatever the password.
				u, err := adm.GetUser(ctx, args[0])
				if err != nil {
					return err
				}
				out, err := adm.SetPassword(ctx, u.ID, password)
				if err != nil {
					return err
				}
				c.declaredNote(u, "password")
				if c.jsonOut {
					v := map[string]any{"id": u.ID, "username": u.Username, "sessions_ended": out.Sessions}
					if generated != "" {
						v["password"] = generated
						fmt.Fprintln(c.stderr, passwordNote)
					}
					return c.printJSON(v)
				}
				msg := fmt.Sprintf("Set the password of user %s; ended %d browser session(s).\n", u.Username, out.Sessions)
				if generated != "" {
					msg += fmt.Sprintf("\nPassword: %s\n%s\n", generated, passwordNote)
				}
				_, err = fmt.Fprint(c.stdout, msg)
				return err
			})
		},
	}
	pw.register(cmd.Flags())
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
	return cmd
}

func (c *cli) usersDisableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disable ID|USERNAME",
		Short: "Refuse the user's sign-ins, end their browser sessions and revoke their tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, out, err := adm.DisableUser(ctx, args[0])
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": u.ID, "username": u.Username, "disabled": true,
						"sessions_ended": out.Sessions, "tokens_revoked": out.Tokens})
				}
				_, err = fmt.Fprintf(c.stdout, "Disabled user %s; ended %d browser session(s) and revoked %d token(s).\n",
					u.Username, out.Sessions, out.Tokens)
				return err
			})
		},
	}
}

func (c *cli) usersEnableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "enable ID|USERNAME",
		Short: "Let a disabled user sign in again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, err := adm.EnableUser(ctx, args[0])
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": u.ID, "username": u.Username, "disabled": false})
				}
				_, err = fmt.Fprintf(c.stdout, "Enabled user %s.\n", u.Username)
				return err
			})
		},
	}
}

func (c *cli) usersDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID|USERNAME",
		Aliases: []string{"rm"},
		Short:   "Delete a user with their consents and sessions, and revoke their tokens",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				u, err := adm.DeleteUser(ctx, args[0])
				if err != nil {
					return err
				}
				if u.Declared {
					fmt.Fprintf(c.stderr, "note: user %s is declared in the configuration file and is created again at the next start unless you remove it there\n", u.Username)
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": u.ID, "username": u.Username, "deleted": true})
				}
				_, err = fmt.Fprintf(c.stdout, "Deleted user %s.\n", u.Username)
				return err
			})
		},
	}
}

// declaredNote warns that the configuration file puts a declared user's fields back.
func (c *cli) declaredNote(u storage.User, what string) {
	if u.Declared {
		fmt.Fprintf(c.stderr, "note: user %s is declared in the configuration file, which sets its %s again at the next start\n", u.Username, what)
	}
}

const passwordNote = "Give the password to the user now: it will not be shown again."

// userView is a user as the CLI shows it: never with its password hash.
type userView struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Roles         []string  `json:"roles"`
	Disabled      bool      `json:"disabled"`
	Declared      bool      `json:"declared"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Password is set only right after it was generated.
	Password string `json:"password,omitempty"`
}

func newUserView(u storage.User) userView {
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Roles: nonNil(u.Roles), Disabled: u.Disabled, Declared: u.Declared,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func userStatus(u storage.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

// printUserWithPassword shows a user after a change, with the generated password if any.
func (c *cli) printUserWithPassword(u storage.User, generated, headline string) error {
	v := newUserView(u)
	v.Password = generated
	return c.printChanged(v, func(w io.Writer) error { return writeUser(w, u) }, headline, "Password", generated, passwordNote)
}

func writeUser(w io.Writer, u storage.User) error {
	tw := tabwriterFor(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", u.ID)
	row("Username", u.Username)
	row("Name", orDash(u.Name))
	email := orDash(u.Email)
	if u.Email != "" && u.EmailVerified {
		email += " (verified)"
	}
	row("Email", email)
	row("Roles", orDash(strings.Join(u.Roles, " ")))
	row("Status", userStatus(u))
	row("Declared", yesNo(u.Declared))
	row("Created", timeText(u.CreatedAt))
	row("Updated", timeText(u.UpdatedAt))
	return tw.Flush()
}
