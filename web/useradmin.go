package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"
)

// errLastAdmin refuses a change that would leave no enabled admin: nobody
// could then manage users from the UI, the API or (without a fresh `user
// add`) at all.
var errLastAdmin = errors.New("this is the last enabled admin: make another admin first")

// userChange is one change to a user, checked against the last-admin rule
// and applied in one transaction.
type userChange struct {
	role     Role   // "" keeps the role
	disabled *bool  // nil keeps the state
	hash     []byte // nil keeps the password
	delete   bool
}

// removesAdmin reports whether the change takes admin rights from u.
func (c userChange) removesAdmin(u User) bool {
	if u.Role != roleAdmin || u.Disabled {
		return false
	}
	return c.delete || (c.disabled != nil && *c.disabled) || (c.role != "" && c.role != roleAdmin)
}

// changeUser applies c to the user id and returns the user as it was
// before. The enabled admins are locked first (SELECT ... FOR UPDATE), so
// two admins demoting each other at once cannot both succeed.
func changeUser(ctx context.Context, db *pgxpool.Pool, id int64, c userChange) (User, error) {
	if c.role != "" && !c.role.valid() {
		return User{}, fmt.Errorf("role %q: want admin, operator or viewer", c.role)
	}
	var before User
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE")
		if err != nil {
			return err
		}
		admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if before, err = scanUser(tx.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = $1 FOR UPDATE", id)); err != nil {
			return err
		}
		if c.removesAdmin(before) && len(admins) <= 1 {
			return errLastAdmin
		}
		if c.delete {
			// api_tokens go with it (ON DELETE CASCADE); its sessions end at
			// their next request, which finds no user.
			_, err = tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET
			role = COALESCE(NULLIF($2, ''), role),
			disabled = COALESCE($3, disabled),
			password_hash = COALESCE($4, password_hash)
			WHERE id = $1`, id, string(c.role), c.disabled, hashText(c.hash))
		return err
	})
	return before, err
}

func hashText(h []byte) *string {
	if h == nil {
		return nil
	}
	s := string(h)
	return &s
}

// resetHash makes a new password and its hash: a reset hands over a
// generated password, shown once, as a new user gets.
func resetHash() (string, []byte, error) {
	pw := NewPassword()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil {
		return "", nil, fmt.Errorf("hash password: %w", err)
	}
	return pw, h, nil
}

// The user commands of the command line (`tollgate user ...`) act by name
// and are audited with cliActor: root on the machine manages users too,
// and is the way back in when no admin can log in.
const cliActor = "command line"

// ListUsers returns every user, by name.
func ListUsers(ctx context.Context, db *pgxpool.Pool) ([]User, error) {
	return (&store{db: db}).users(ctx)
}

// SetUserPassword gives the user named name a new password.
func SetUserPassword(ctx context.Context, db *pgxpool.Pool, name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return cliChange(ctx, db, name, userChange{hash: h}, auditUserPassword, "the user's sessions end")
}

// SetUserRole changes the role of the user named name.
func SetUserRole(ctx context.Context, db *pgxpool.Pool, name string, role Role) error {
	return cliChange(ctx, db, name, userChange{role: role}, auditUserRole, "→ "+string(role))
}

// SetUserDisabled disables or enables the user named name; its API tokens
// are kept, and refused while it is disabled.
func SetUserDisabled(ctx context.Context, db *pgxpool.Pool, name string, disabled bool) error {
	action := auditUserEnable
	if disabled {
		action = auditUserDisable
	}
	return cliChange(ctx, db, name, userChange{disabled: &disabled}, action, "")
}

// DeleteUser deletes the user named name and its API tokens.
func DeleteUser(ctx context.Context, db *pgxpool.Pool, name string) error {
	return cliChange(ctx, db, name, userChange{delete: true}, auditUserDelete, "its API tokens deleted")
}

func cliChange(ctx context.Context, db *pgxpool.Pool, name string, c userChange, action, detail string) error {
	st := &store{db: db}
	u, err := st.userByName(ctx, name)
	if errors.Is(err, errNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	if err != nil {
		return err
	}
	if _, err := changeUser(ctx, db, u.ID, c); err != nil {
		return err
	}
	if err := st.audit(ctx, AuditEntry{Actor: cliActor, Action: action, Target: name, Detail: detail}); err != nil {
		return fmt.Errorf("changed, but %w", err)
	}
	return nil
}
