package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"gopkg.in/yaml.v3"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/console"
	"riskwatch/desk"
	"riskwatch/desk/calendar"
	"riskwatch/detectors"
	"riskwatch/pipeline"
	"riskwatch/pipeline/normalize"
)

// newDesks wires the desks' parts: their rules, the working-day calendar,
// the parties of evidence from ClickHouse (conn may be nil) and the
// personal-data key that opens their contacts (p may be nil). log, when not
// nil, hears of years the calendar lacks; now is the clock, nil for the
// wall clock.
func newDesks(c *config, pool *pgxpool.Pool, conn driver.Conn, p *normalize.Protector, log *slog.Logger, now func() time.Time) (desk.Parts, desk.Config, error) {
	cal, err := loadCalendar(c.Calendar)
	if err != nil {
		return desk.Parts{}, desk.Config{}, err
	}
	if years := unknownYears(cal, time.Now()); len(years) > 0 && log != nil {
		log.Warn("the working-day calendar lacks these years: their deadlines count weekends only; add them with -calendar", "years", years)
	}
	cfg, err := desk.LoadConfig(c.DeskConfig)
	if err != nil {
		return desk.Parts{}, cfg, err
	}
	deps := desk.Deps{Calendar: cal, Mask: normalize.MaskText, Now: now}
	if conn != nil {
		deps.Parties = partiesOf{pipeline.NewPersonReader(conn)}
		deps.Deleted = pipeline.NewRecordReader(conn)
	}
	if p != nil {
		deps.Contacts = &contactOpener{p}
	}
	parts, err := desk.New(pool, cfg, deps)
	return parts, cfg, err
}

// openDesks opens PostgreSQL and wires the desks over it for a command
// that needs neither ClickHouse nor the personal-data key; closeDesks
// closes the pool.
func openDesks(ctx context.Context, c *config) (d desk.Parts, closeDesks func(), err error) {
	pool, err := c.openPostgres(ctx)
	if err != nil {
		return desk.Parts{}, nil, err
	}
	if d, _, err = newDesks(c, pool, nil, nil, nil, nil); err != nil {
		pool.Close()
		return desk.Parts{}, nil, err
	}
	return d, pool.Close, nil
}

// consoleDeps gives the API the desks' parts, the ingestion's health, the
// readers of ClickHouse's records, matters and quarantine and the briefs'
// maker (conn nil: none)
// and the directory's reloader (nil without a directory file).
func consoleDeps(d desk.Parts, stats *pipeline.StatsReader, conn driver.Conn, reload func(context.Context, *desk.User) (int, error)) console.Deps {
	deps := console.Deps{Accounts: d.Accounts, Review: d.Review, Cases: d.Cases, Directory: d.Directory,
		Audit: d.Audit, Outbox: d.Outbox, Stats: d.Stats, Reload: reload}
	if stats != nil {
		deps.Ingest = stats
	}
	if conn != nil { // never a typed nil in an interface
		deps.Records = pipeline.NewRecordReader(conn)
		matters := pipeline.NewMatterReader(conn)
		deps.Matters = matters
		deps.Quarantine = pipeline.NewQuarantineReader(conn, nil) // reasons only: raw values stay sealed
		deps.Briefs = brief.NewMaker(matters, d.Stats, d.Directory, nil)
	}
	return deps
}

// loadCalendar is the built-in working-day calendar, with the years of
// path (if any) over it.
func loadCalendar(path string) (*calendar.Calendar, error) {
	if path == "" {
		return calendar.Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open calendar: %w", err)
	}
	defer f.Close()
	cal, err := calendar.Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cal, nil
}

// unknownYears are this year and the next when the calendar lacks their
// holidays: deadlines there count weekends only.
func unknownYears(cal *calendar.Calendar, now time.Time) []int {
	var out []int
	for y := now.In(risk.CST).Year(); y <= now.In(risk.CST).Year()+1; y++ {
		if !cal.Known(y) {
			out = append(out, y)
		}
	}
	return out
}

// partiesOf reads the parties of an alert's evidence from the events.
type partiesOf struct{ r *pipeline.PersonReader }

func (p partiesOf) Parties(ctx context.Context, evidence []risk.Evidence) ([]desk.Party, error) {
	persons, err := p.r.Persons(ctx, evidence)
	if err != nil {
		return nil, err
	}
	var out []desk.Party
	for _, ps := range persons {
		if ps.Key() == "" {
			continue // anonymous: nobody to contact or to link
		}
		out = append(out, desk.Party{Key: ps.Key(), Role: ps.Role, Name: ps.Name, Phone: ps.Phone, Sealed: ps.Sealed})
	}
	return out, nil
}

// contactOpener opens sealed contacts with the personal-data key.
type contactOpener struct{ p *normalize.Protector }

func (o *contactOpener) Unseal(sealed string) (desk.Contact, error) {
	name, phone, id, err := o.p.Open(sealed)
	return desk.Contact{Name: name, Phone: phone, IDNo: id}, err
}

// topicWriter publishes the desks' events to one topic. It never creates
// the topic: on a cluster, its operators do (serve checks at start).
type topicWriter struct{ w *kafka.Writer }

func newTopicWriter(b pipeline.Brokers, topic string) *topicWriter {
	return &topicWriter{w: &kafka.Writer{Addr: kafka.TCP(b.Addrs...), Transport: b.Transport(), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}}
}

// Publish sends value under key with the headers of the published
// contracts (deploy/contracts/): their version and the payload's type.
func (t *topicWriter) Publish(ctx context.Context, id, key string, value []byte) error {
	return t.w.WriteMessages(ctx, kafka.Message{Key: []byte(key), Value: value, Headers: []kafka.Header{
		{Key: desk.HeaderContractVersion, Value: []byte(desk.ContractVersion)},
		{Key: desk.HeaderEventID, Value: []byte(id)},
		{Key: "content-type", Value: []byte("application/json")},
	}})
}

func (t *topicWriter) Close() error { return t.w.Close() }

// userCmd manages users from the server's shell: the bootstrap of the
// first administrator, and tokens for machines.
//
//	riskwatch user add -username admin -role admin -jurisdiction 330681
//	riskwatch user token -username hotline-bridge -name 热线对接
//
// The password comes from RISKWATCH_PASSWORD or the first line of stdin,
// never from a flag (flags show in the process list).
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "token") {
		return errors.New("usage: riskwatch user add -username NAME -role ROLE -jurisdiction CODE [-display NAME] | user token -username NAME -name WHAT")
	}
	sub := args[0]
	var name, role, juris, display, tokenName string
	var ttl time.Duration
	c, err := parse("user "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "username", "", "The user's sign-in name: lowercase letters, digits, dots, dashes.")
		fs.StringVar(&role, "role", "", "add: admin, reviewer, mediator or leader.")
		fs.StringVar(&juris, "jurisdiction", "", "add: division code prefix the user sees, e.g. 330681 for 诸暨市.")
		fs.StringVar(&display, "display", "", "add: the name shown, e.g. 张三.")
		fs.StringVar(&tokenName, "name", "", "token: what the token is for.")
		fs.DurationVar(&ttl, "ttl", 0, "token: how long the token works, up to two years (e.g. 2160h); 0 for the desks' sessions.token_ttl (90 days by default).")
	})
	if err != nil {
		return err
	}
	d, closeDesks, err := openDesks(ctx, c)
	if err != nil {
		return err
	}
	defer closeDesks()
	if sub == "token" {
		u, err := d.Accounts.UserByName(ctx, name)
		if err != nil {
			return err
		}
		token, err := d.Accounts.CreateToken(ctx, nil, u.ID, tokenName, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		return nil
	}
	password := getenv("RISKWATCH_PASSWORD")
	if password == "" {
		fmt.Fprint(stderr, "password: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	u, err := d.Accounts.AddUser(ctx, nil, desk.User{Username: name, DisplayName: display, Role: desk.Role(role), Jurisdiction: juris}, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s, %s) added\n", u.Username, u.Role, u.Jurisdiction)
	return nil
}

// detectorSettings shows the administrators the detectors in force: each
// definition's schedule and window, and its section of the settings file.
type detectorSettings struct {
	defs []detectors.Definition
	cfg  detectors.Config
}

// Settings implements the console's detector settings.
func (d detectorSettings) Settings() []console.DetectorSetting {
	var sections map[string]map[string]any
	if b, err := yaml.Marshal(d.cfg); err == nil {
		yaml.Unmarshal(b, &sections) // a section per detector, by its id
	}
	out := make([]console.DetectorSetting, 0, len(d.defs))
	for _, def := range d.defs {
		s := console.DetectorSetting{Detector: def.Name, Schedule: def.Schedule, Window: def.Window, Timeout: def.Timeout}
		for _, k := range slices.Sorted(maps.Keys(sections[def.Name])) {
			s.Values = append(s.Values, console.SettingValue{Name: k, Value: fmt.Sprint(sections[def.Name][k])})
		}
		out = append(out, s)
	}
	return out
}
