package brief

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	risk "riskwatch"
	"riskwatch/desk"
	"riskwatch/desk/robot"
)

// Schedule is a brief made on schedule: of Region, for the last complete
// period of Kind, when Cron (in UTC+8) fires.
type Schedule struct {
	Region string `yaml:"region"`
	Kind   string `yaml:"kind"`
	Cron   string `yaml:"cron"`
}

// DefaultCron is when each kind of brief is made by default: Monday 08:00
// for the last week, the 21st 08:00 for the business month just ended,
// the 1st for the month, every morning for the day.
var DefaultCron = map[string]string{"week": "0 8 * * 1", "business": "0 8 21 * *", "month": "0 8 1 * *", "day": "0 8 * * *"}

// Store keeps the briefs made on schedule in PostgreSQL (table briefs).
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a Store over a migrated database.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Save stores b, printed as html, unless a brief of its region, kind and
// period is stored already; it reports whether this call stored it, so
// that of replicas racing for one brief exactly one goes on to announce it.
func (s *Store) Save(ctx context.Context, b *Brief, html, host string) (bool, error) {
	figures, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO briefs (region, kind, period_from, period_to, made_at, made_by, brief, html)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		b.Region, b.Period.Kind, b.Period.From, b.Period.To, b.MadeAt, host, figures, html)
	if err != nil {
		return false, fmt.Errorf("store the brief of %s %s: %w", b.Region, b.Period.Title(), err)
	}
	return tag.RowsAffected() == 1, nil
}

// Stored is a brief kept by the Store, as listed: what it covers, when it
// was made and its headline, without its pages.
type Stored struct {
	Region       string    `json:"region"`
	RegionName   string    `json:"region_name"`
	Period       Period    `json:"period"`
	Title        string    `json:"title"` // the period in Chinese
	MadeAt       time.Time `json:"made_at"`
	Matters      int       `json:"matters"` // raised in the period
	Observations []string  `json:"observations"`
}

// MaxList is the most briefs List returns.
const MaxList = 200

// List returns the stored briefs of the regions inside jurisdiction (a
// division code prefix), the latest period first, then by region, at most
// limit (0 or more than MaxList: MaxList).
func (s *Store) List(ctx context.Context, jurisdiction string, limit int) ([]Stored, error) {
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	rows, err := s.pool.Query(ctx, `SELECT region, kind, period_from, period_to, made_at, brief FROM briefs
		WHERE starts_with(region, $1) ORDER BY period_to DESC, region, kind LIMIT $2`, jurisdiction, limit)
	if err != nil {
		return nil, fmt.Errorf("list briefs: %w", err)
	}
	defer rows.Close()
	out := []Stored{}
	for rows.Next() {
		st := Stored{Observations: []string{}}
		var figures []byte
		if err := rows.Scan(&st.Region, &st.Period.Kind, &st.Period.From, &st.Period.To, &st.MadeAt, &figures); err != nil {
			return nil, fmt.Errorf("list briefs: %w", err)
		}
		var b Brief
		if err := json.Unmarshal(figures, &b); err != nil {
			return nil, fmt.Errorf("list briefs: brief of %s %s: %w", st.Region, st.Period.Kind, err)
		}
		st.Period.From, st.Period.To = st.Period.From.In(risk.CST), st.Period.To.In(risk.CST)
		st.RegionName, st.Title = b.RegionName, st.Period.Title()
		if len(b.Headline) > 0 {
			st.Matters = b.Headline[0].Current
		}
		for _, o := range b.Observations {
			st.Observations = append(st.Observations, o.Text)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list briefs: %w", err)
	}
	return out, nil
}

// HTML returns the printed brief of region, kind and the period starting
// at from, as it was stored; ErrNotFound when none was.
func (s *Store) HTML(ctx context.Context, region, kind string, from time.Time) (string, error) {
	var html string
	err := s.pool.QueryRow(ctx, `SELECT html FROM briefs WHERE region = $1 AND kind = $2 AND period_from = $3`, region, kind, from).Scan(&html)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("no stored brief of %s, %s from %s: %w", region, kind, from.Format(time.DateOnly), risk.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read the brief of %s: %w", region, err)
	}
	return html, nil
}

// maker makes a brief (Maker).
type maker interface {
	Make(ctx context.Context, by desk.User, region string, p Period) (*Brief, error)
}

// announcer tells the robots of a region's desks, once per key
// (desk.Outbox).
type announcer interface {
	Announce(ctx context.Context, region, key string, m robot.Message) error
}

// Scheduler makes the scheduled briefs, stores them, and announces each
// through the robots of its region's desks with the headline figures and
// a link — once, whichever replica makes it first.
type Scheduler struct {
	maker     maker
	store     *Store
	announcer announcer
	link      string // the console's address, for the link; "" a path only
	host      string
	log       *slog.Logger
}

// NewScheduler returns a Scheduler. link is the console's address as
// leaders reach it (https://riskwatch.example.gov.cn), "" for a path only;
// host names this replica in the store.
func NewScheduler(m maker, store *Store, a announcer, link, host string, log *slog.Logger) *Scheduler {
	return &Scheduler{maker: m, store: store, announcer: a, link: strings.TrimSuffix(link, "/"), host: host, log: log.With("component", "brief")}
}

// Run makes the briefs of schedules when their cron fires, until ctx is
// done; it returns after a brief being made has finished. A bad schedule
// is ErrInvalid and nothing runs.
func (s *Scheduler) Run(ctx context.Context, schedules []Schedule) error {
	c := cron.New(cron.WithLocation(risk.CST), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	for _, sc := range schedules {
		if _, err := Scope(sc.Region); err != nil {
			return fmt.Errorf("brief schedule %s: %w", sc.Region, err)
		}
		if _, err := PeriodAt(sc.Kind, time.Now()); err != nil {
			return fmt.Errorf("brief schedule %s: %w", sc.Region, err)
		}
		if _, err := c.AddFunc(sc.Cron, func() {
			if err := s.RunOnce(ctx, sc, time.Now()); err != nil {
				s.log.Error("scheduled brief", "region", sc.Region, "kind", sc.Kind, "err", err)
			}
		}); err != nil {
			return fmt.Errorf("brief schedule %s %s: cron %q: %w", sc.Region, sc.Kind, sc.Cron, risk.ErrInvalid)
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// RunOnce makes the brief of sc for the last period complete at now,
// stores it, and — when this call stored it — announces it.
func (s *Scheduler) RunOnce(ctx context.Context, sc Schedule, now time.Time) error {
	cur, err := PeriodAt(sc.Kind, now)
	if err != nil {
		return err
	}
	scope, err := Scope(sc.Region)
	if err != nil {
		return err
	}
	p := cur.Previous()
	b, err := s.maker.Make(ctx, desk.User{Username: "riskwatch-brief", Role: desk.RoleLeader, Jurisdiction: scope}, sc.Region, p)
	if err != nil {
		return err
	}
	var html bytes.Buffer
	if err := Write(&html, b, "html"); err != nil {
		return err
	}
	stored, err := s.store.Save(ctx, b, html.String(), s.host)
	if err != nil || !stored {
		return err // another replica made it
	}
	key := fmt.Sprintf("brief/%s/%s/%s", b.Region, p.Kind, p.From.Format(time.DateOnly))
	if err := s.announcer.Announce(ctx, sc.Region, key, s.message(b)); err != nil {
		return err
	}
	s.log.Info("brief made", "region", b.Region, "kind", p.Kind, "from", p.From.Format(time.DateOnly), "observations", len(b.Observations))
	return nil
}

// message is the robots' announcement: the headline figures, the
// observations and the link to the printable brief.
func (s *Scheduler) message(b *Brief) robot.Message {
	var md strings.Builder
	title := b.RegionName + "态势简报 " + b.Period.Title()
	fmt.Fprintf(&md, "#### %s\n", title)
	for _, f := range b.Headline {
		switch f.Key {
		case "matters", "alerts_red", "alerts_orange", "cases_opened", "cases_settled", "cases_overdue":
			fmt.Fprintf(&md, "- %s：%d（上%s%d，%s）\n", f.Name, f.Current, b.Period.Name(), f.Previous, change(f.Current, f.Previous))
		}
	}
	fmt.Fprintf(&md, "- 矛盾不上交率：%s\n", shareText(b.SettledShare.Current))
	for i, o := range b.Observations {
		fmt.Fprintf(&md, "\n%d. %s", i+1, o.Text)
	}
	// The brief as stored and announced, not one made again later.
	fmt.Fprintf(&md, "\n\n[查看简报](%s/api/v1/briefs/stored/%s/%s/%s)", s.link, b.Region, b.Period.Kind, b.Period.From.In(risk.CST).Format(time.DateOnly))
	return robot.Message{Title: title, Markdown: md.String()}
}
