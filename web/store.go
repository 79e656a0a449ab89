package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"
)

// store is the SQL of users, API tokens and the audit log.
type store struct{ db *pgxpool.Pool }

// User is an administrator of the web UI and API.
type User struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
	LastLogin *time.Time `json:"last_login_at"`
	hash      []byte
}

// Token is an API token's metadata; its secret is shown once at creation.
type Token struct {
	ID       int64      `json:"id"`
	UserID   int64      `json:"user_id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created_at"`
	LastUsed *time.Time `json:"last_used_at"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
	IP     string    `json:"ip"`
}

// Audit actions.
const (
	auditLogin        = "login"
	auditLoginFailed  = "login failed"
	auditLoginLimited = "login throttled"
	auditLogout       = "logout"
	auditCallKill     = "call kill"
	auditUnregister   = "registration remove"
	// A subscriber's secret never reaches the audit log: its realm does.
	auditSubscriberAdd    = "subscriber add"
	auditSubscriberDelete = "subscriber delete"
	auditReload           = "config reload"
	auditReloadFailed     = "config reload failed"
	auditUserAdd          = "user add"
	auditUserDisable      = "user disable"
	auditUserEnable       = "user enable"
	auditTokenAdd         = "token add"
	auditTokenRevoke      = "token revoke"
	auditUserRole         = "user role"
	auditUserDelete       = "user delete"
	auditUserPassword     = "password reset"

	auditPasswordChange = "password change"
	auditPasswordFailed = "password change failed"
)

var (
	errNotFound  = errors.New("not found")
	errNameTaken = errors.New("a user of that name exists")
)

// MinPasswordLen is the shortest password accepted for a user.
const MinPasswordLen = 12

// bcryptCost is above bcrypt's default of 10: logins are rare, and the
// throttle bounds how often anyone can make the server pay for one.
const bcryptCost = 12

const userCols = "id, name, role, disabled, created_at, last_login_at, password_hash"

func scanUser(row pgx.Row) (User, error) {
	var u User
	var hash string
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.LastLogin, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, errNotFound
	}
	u.hash = []byte(hash)
	return u, err
}

func (st *store) userByName(ctx context.Context, name string) (User, error) {
	return scanUser(st.db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE name = $1", name))
}

func (st *store) userByID(ctx context.Context, id int64) (User, error) {
	return scanUser(st.db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", id))
}

func (st *store) users(ctx context.Context) ([]User, error) {
	rows, err := st.db.Query(ctx, "SELECT "+userCols+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AddUser creates a user with a bcrypt hash of password. It is what
// `tollgate user add` calls.
func AddUser(ctx context.Context, db *pgxpool.Pool, name string, role Role, password string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || !plainText(name) {
		return 0, errors.New("a user name is 1 to 64 characters of UTF-8 text")
	}
	if !role.valid() {
		return 0, fmt.Errorf("role %q: want admin, operator or viewer", role)
	}
	if err := checkPassword(password); err != nil {
		return 0, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return 0, fmt.Errorf("hash password: %w", err)
	}
	var id int64
	err = db.QueryRow(ctx, "INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) RETURNING id",
		name, string(role), string(hash)).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, errNameTaken
	}
	if err != nil {
		return 0, fmt.Errorf("add user: %w", err)
	}
	return id, nil
}

// NewPassword returns a random password of 20 URL-safe characters.
func NewPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setDisabled disables or enables a user and returns it. A disabled user's
// API tokens are kept but refused (userByToken wants an enabled user), so
// enabling the user again brings its machines back; they are not deleted
// behind the admin's back.
func (st *store) setDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	u, err := changeUser(ctx, st.db, id, userChange{disabled: &disabled})
	u.Disabled = disabled
	return u, err
}

func (st *store) setPassword(ctx context.Context, id int64, hash []byte) error {
	tag, err := st.db.Exec(ctx, "UPDATE users SET password_hash = $2 WHERE id = $1", id, string(hash))
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errNotFound
	}
	return nil
}

func (st *store) touchLogin(ctx context.Context, id int64) error {
	_, err := st.db.Exec(ctx, "UPDATE users SET last_login_at = now() WHERE id = $1", id)
	return err
}

const tokenPrefix = "tg_"

func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// addToken creates an API token for a user and returns its secret, which
// is not stored and cannot be shown again.
func (st *store) addToken(ctx context.Context, userID int64, name string) (string, Token, error) {
	b := make([]byte, 32)
	rand.Read(b)
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := Token{UserID: userID, Name: name}
	err := st.db.QueryRow(ctx, "INSERT INTO api_tokens (user_id, name, hash) VALUES ($1, $2, $3) RETURNING id, created_at",
		userID, name, tokenHash(secret)).Scan(&t.ID, &t.Created)
	if err != nil {
		return "", t, fmt.Errorf("add token: %w", err)
	}
	return secret, t, nil
}

// userByToken finds the enabled user holding an API token.
func (st *store) userByToken(ctx context.Context, secret string) (User, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return User{}, errNotFound
	}
	return scanUser(st.db.QueryRow(ctx, `
		UPDATE api_tokens t SET last_used_at = now() FROM users u
		WHERE t.hash = $1 AND u.id = t.user_id AND NOT u.disabled
		RETURNING u.id, u.name, u.role, u.disabled, u.created_at, u.last_login_at, u.password_hash`,
		tokenHash(secret)))
}

func (st *store) tokens(ctx context.Context) ([]Token, error) {
	rows, err := st.db.Query(ctx, "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens ORDER BY user_id, id")
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.UserID, &t.Name, &t.Created, &t.LastUsed)
		return t, err
	})
}

func (st *store) tokenCount(ctx context.Context, userID int64) (int, error) {
	var n int
	err := st.db.QueryRow(ctx, "SELECT count(*) FROM api_tokens WHERE user_id = $1", userID).Scan(&n)
	return n, err
}

func (st *store) revokeToken(ctx context.Context, id int64) (Token, error) {
	var t Token
	err := st.db.QueryRow(ctx, "DELETE FROM api_tokens WHERE id = $1 RETURNING id, user_id, name, created_at, last_used_at", id).
		Scan(&t.ID, &t.UserID, &t.Name, &t.Created, &t.LastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, errNotFound
	}
	return t, err
}

// audit appends to the audit log. It is called with the request's context
// detached: an entry must be written even when the client goes away.
func (st *store) audit(ctx context.Context, e AuditEntry) error {
	_, err := st.db.Exec(context.WithoutCancel(ctx),
		"INSERT INTO audit_log (actor, action, target, detail, ip) VALUES ($1, $2, $3, $4, $5)",
		e.Actor, e.Action, e.Target, e.Detail, e.IP)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// auditPage returns entries older than the id before (0: the newest),
// newest first, and whether more follow.
func (st *store) auditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, bool, error) {
	rows, err := st.db.Query(ctx, `SELECT id, at, actor, action, target, detail, ip FROM audit_log
		WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.IP)
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("audit log: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
