package desk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// Desk is a resolution desk: it owns the matters of its region at its tier.
type Desk struct {
	ID       string          `yaml:"id" json:"id"`         // stable slug: fengqiao-zzzx
	Name     string          `yaml:"name" json:"name"`     // 枫桥镇综治中心
	Tier     risk.Tier       `yaml:"tier" json:"tier"`     // village, township, county, city
	Region   string          `yaml:"region" json:"region"` // division code prefix of 6, 9 or 12 digits
	Members  []string        `yaml:"members" json:"members"`
	Heads    []string        `yaml:"heads" json:"heads"`
	Hours    string          `yaml:"hours" json:"hours"` // working hours in UTC+8, "08:30-17:30"; "" always
	Webhooks []robot.Webhook `yaml:"webhooks" json:"webhooks"`
	Source   string          `yaml:"-" json:"source"` // "file" or "api"
}

var (
	deskID    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	deskHours = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$`)
)

// Validate reports what is wrong with d, wrapping risk.ErrInvalid. A
// robot must be https on a host of robots; the errors never quote its URL,
// which carries the access token.
func (d Desk) Validate(robots robot.Allowlist) error {
	var errs []error
	if !deskID.MatchString(d.ID) {
		errs = append(errs, fmt.Errorf("id %q: want 2–64 lowercase letters, digits or dashes", d.ID))
	}
	if err := checkText("name", d.Name, 1, maxName); err != nil {
		errs = append(errs, err)
	}
	if d.Tier.Rank() == 0 {
		errs = append(errs, fmt.Errorf("tier %q: want village, township, county or city", d.Tier))
	}
	if r, err := risk.ParseRegion(d.Region); err != nil {
		errs = append(errs, err)
	} else if d.Tier.Rank() > 0 && d.Tier != risk.TierCity && risk.TierOf(r) != d.Tier {
		errs = append(errs, fmt.Errorf("region %s is a %s code, the desk is %s", d.Region, risk.TierOf(r), d.Tier))
	}
	if d.Hours != "" && !deskHours.MatchString(d.Hours) {
		errs = append(errs, fmt.Errorf("hours %q: want HH:MM-HH:MM", d.Hours))
	}
	for i, w := range d.Webhooks {
		if err := w.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("webhook %d: %w", i+1, err))
		} else if err := robots.CheckURL(w.URL); err != nil {
			errs = append(errs, fmt.Errorf("webhook %d: %w (notify.robots.hosts)", i+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("desk %s: %w: %w", d.ID, err, risk.ErrInvalid)
	}
	return nil
}

// Member reports whether the user works at the desk, as mediator or head.
func (d Desk) Member(username string) bool {
	return slices.Contains(d.Members, username) || slices.Contains(d.Heads, username)
}

// ReadDirectory parses a directory file: a YAML list of desks under
// "desks", whose robots must be within robots. Unknown fields are errors,
// so that a typo is not a silent gap.
func ReadDirectory(r io.Reader, robots robot.Allowlist) ([]Desk, error) {
	var f struct {
		Desks []Desk `yaml:"desks"`
	}
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read desk directory: %w: %w", err, risk.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, d := range f.Desks {
		if err := d.Validate(robots); err != nil {
			return nil, err
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("desk %s listed twice: %w", d.ID, risk.ErrInvalid)
		}
		seen[d.ID] = true
	}
	return f.Desks, nil
}

// LoadFile reads the directory file at path into the directory: the
// file's desks replace those of the last load; desks added through the API
// stay. It is what serve runs at start and on SIGHUP (by nil), and what an
// administrator whose jurisdiction holds every desk of the file may ask for.
func (s *Directory) LoadFile(ctx context.Context, by *User, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open desk directory: %w", err)
	}
	defer f.Close()
	desks, err := ReadDirectory(f, s.robots)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if by != nil {
		for _, d := range desks {
			if err := by.allow(permDesks, d.Region); err != nil {
				return 0, err
			}
		}
	}
	return len(desks), s.replaceFileDesks(ctx, desks)
}

// replaceFileDesks makes the file's desks the store's 'file' desks in one
// transaction. A desk that left the file but is in use is kept.
func (s *Directory) replaceFileDesks(ctx context.Context, desks []Desk) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids := make([]string, len(desks))
		for i, d := range desks {
			ids[i] = d.ID
			if err := upsertDesk(ctx, tx, d, "file"); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM desks WHERE source = 'file' AND NOT id = ANY($1) AND NOT `+deskInUse, ids)
		if err != nil {
			return fmt.Errorf("remove desks gone from the file: %w", err)
		}
		return nil
	})
}

func upsertDesk(ctx context.Context, tx pgx.Tx, d Desk, source string) error {
	if d.Members == nil {
		d.Members = []string{}
	}
	if d.Heads == nil {
		d.Heads = []string{}
	}
	if d.Webhooks == nil {
		d.Webhooks = []robot.Webhook{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO desks (id, name, tier, region, members, heads, hours, webhooks, source, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
		ON CONFLICT (id) DO UPDATE SET name = $2, tier = $3, region = $4, members = $5, heads = $6, hours = $7,
			webhooks = $8, source = $9, updated_at = now()`,
		d.ID, d.Name, d.Tier, d.Region, d.Members, d.Heads, d.Hours, webhooksJSON(d.Webhooks), source)
	if isUniqueViolation(err) {
		return fmt.Errorf("desk %s: another desk already owns %s at tier %s: %w", d.ID, d.Region, d.Tier, risk.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("save desk %s: %w", d.ID, err)
	}
	return nil
}

// storedRobot is a robot as the desks table keeps it: with its secret,
// which robot.Webhook's JSON form drops.
func storedRobot(w robot.Webhook) map[string]string {
	return map[string]string{"kind": string(w.Kind), "url": w.URL, "secret": w.Secret}
}

func storedWebhook(m map[string]string) robot.Webhook {
	return robot.Webhook{Kind: robot.Kind(m["kind"]), URL: m["url"], Secret: m["secret"]}
}

func webhooksJSON(ws []robot.Webhook) []map[string]string {
	out := make([]map[string]string, len(ws))
	for i, w := range ws {
		out[i] = storedRobot(w)
	}
	return out
}

func webhooksFromJSON(ms []map[string]string) []robot.Webhook {
	out := make([]robot.Webhook, len(ms))
	for i, m := range ms {
		out[i] = storedWebhook(m)
	}
	return out
}

const deskColumns = `id, name, tier, region, members, heads, hours, webhooks, source`

// deskInUse is true for a row of desks that an alert or a case refers to
// (a case's desks include those it was escalated from): such a desk stays.
const deskInUse = `(EXISTS (SELECT 1 FROM cases WHERE cases.desk_id = desks.id OR cases.first_desk_id = desks.id)
	OR EXISTS (SELECT 1 FROM alerts WHERE alerts.desk_id = desks.id)
	OR EXISTS (SELECT 1 FROM case_desks WHERE case_desks.desk_id = desks.id))`

func scanDesk(row pgx.CollectableRow) (Desk, error) {
	var d Desk
	var hooks []map[string]string
	err := row.Scan(&d.ID, &d.Name, &d.Tier, &d.Region, &d.Members, &d.Heads, &d.Hours, &hooks, &d.Source)
	d.Webhooks = webhooksFromJSON(hooks)
	return d, err
}

// Desks returns every desk, lowest tier first, then by region.
func (s *Directory) Desks(ctx context.Context) ([]Desk, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deskColumns+` FROM desks
		ORDER BY CASE tier WHEN 'village' THEN 1 WHEN 'township' THEN 2 WHEN 'county' THEN 3 ELSE 4 END, region`)
	if err != nil {
		return nil, fmt.Errorf("list desks: %w", err)
	}
	return pgx.CollectRows(rows, scanDesk)
}

// Desk returns one desk, or risk.ErrNotFound.
func (s *Directory) Desk(ctx context.Context, id string) (Desk, error) {
	return getDesk(ctx, s.pool, id)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func getDesk(ctx context.Context, q querier, id string) (Desk, error) {
	rows, err := q.Query(ctx, `SELECT `+deskColumns+` FROM desks WHERE id = $1`, id)
	if err != nil {
		return Desk{}, fmt.Errorf("get desk %s: %w", id, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDesk)
	if errors.Is(err, pgx.ErrNoRows) {
		return Desk{}, fmt.Errorf("desk %s: %w", id, risk.ErrNotFound)
	}
	return d, err
}

// Directory is the desk directory (the desks table): who owns the matters
// of which region at which tier, and the routing rule over it.
type Directory struct {
	base
	routing RoutingConfig
	robots  robot.Allowlist // where the desks' robots may be
}

// DesksFor lists the desks for by: administrators see everything of the
// desks in their jurisdiction; the desks above it they see, like everyone
// else, without robots, whose addresses carry access tokens.
func (s *Directory) DesksFor(ctx context.Context, by User) ([]Desk, error) {
	if by.Role == RoleLeader || by.Disabled {
		return nil, fmt.Errorf("%s may not list desks: %w", by.Role, risk.ErrForbidden)
	}
	all, err := s.Desks(ctx)
	if err != nil {
		return nil, err
	}
	var out []Desk
	for _, d := range all {
		// A desk is in sight when its region and the user's jurisdiction
		// overlap: a township reviewer sees the county desk it escalates to.
		if !strings.HasPrefix(d.Region, by.Jurisdiction) && !strings.HasPrefix(by.Jurisdiction, d.prefix()) {
			continue
		}
		out = append(out, d.seenBy(by))
	}
	return out, nil
}

// SaveDesk creates or replaces a desk through the API. Administrators
// manage the desks of their jurisdiction.
func (s *Directory) SaveDesk(ctx context.Context, by User, d Desk) (Desk, error) {
	if err := d.Validate(s.robots); err != nil {
		return Desk{}, err
	}
	if err := by.allow(permDesks, d.Region); err != nil {
		return Desk{}, err
	}
	err := s.write(ctx, by.Username, func(c *change) error {
		old, err := getDesk(ctx, c.tx, d.ID)
		if err == nil && !by.within(old.Region) {
			return fmt.Errorf("desk %s is outside your jurisdiction: %w", d.ID, risk.ErrForbidden)
		}
		// Secrets never leave the store, so an edit that resends a robot
		// without its secret keeps the one it had.
		for i, w := range d.Webhooks {
			for _, o := range old.Webhooks {
				if w.Secret == "" && o.URL == w.URL && o.Kind == w.Kind {
					d.Webhooks[i].Secret = o.Secret
				}
			}
		}
		if err := upsertDesk(ctx, c.tx, d, "api"); err != nil {
			return err
		}
		return c.audit(ctx, "desk.save", auditRef{deskID: d.ID}, map[string]any{"name": d.Name, "tier": d.Tier, "region": d.Region,
			"members": d.Members, "heads": d.Heads, "webhooks": len(d.Webhooks)})
	})
	if err != nil {
		return Desk{}, err
	}
	return s.Desk(ctx, d.ID)
}

// DeleteDesk removes a desk that never had an alert or a case.
func (s *Directory) DeleteDesk(ctx context.Context, by User, id string) error {
	return s.write(ctx, by.Username, func(c *change) error {
		d, err := getDesk(ctx, c.tx, id)
		if err != nil {
			return err
		}
		if err := by.allow(permDesks, d.Region); err != nil {
			return err
		}
		var used bool
		if err := c.tx.QueryRow(ctx, `SELECT `+deskInUse+` FROM desks WHERE id = $1`, id).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("desk %s has alerts or cases: %w", id, risk.ErrConflict)
		}
		if _, err := c.tx.Exec(ctx, `DELETE FROM desks WHERE id = $1`, id); err != nil {
			return err
		}
		return c.audit(ctx, "desk.delete", auditRef{deskID: id}, map[string]any{"name": d.Name})
	})
}

// PreviewRoute answers "where would this go" without creating anything.
func (s *Directory) PreviewRoute(ctx context.Context, by User, sc Scope) (Route, error) {
	if err := by.allow(permRouting, sc.Region); err != nil {
		return Route{}, err
	}
	desks, err := s.Desks(ctx)
	if err != nil {
		return Route{}, err
	}
	r, err := s.routing.Route(sc, desks)
	r.Desk = r.Desk.seenBy(by)
	return r, err
}

// seenBy is d as by may see it: its robots only for an administrator whose
// jurisdiction holds it.
func (d Desk) seenBy(by User) Desk {
	if by.Role != RoleAdmin || !by.within(d.Region) {
		d.Webhooks = nil
	}
	return d
}
