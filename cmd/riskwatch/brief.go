package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	risk "riskwatch"
	"riskwatch/brief"
	"riskwatch/desk"
	"riskwatch/pipeline"
)

// briefCmd writes a leaders' brief of a region and a period, from
// ClickHouse and PostgreSQL, for any past period.
func briefCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var region, period, atText, format, out string
	c, err := parse("brief", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&region, "region", "", "Division code of the city, county or township (6, 9 or 12 digits). Required.")
		fs.StringVar(&period, "period", "week", "day, week (Monday to Sunday), month, or business (信访业务月: the 21st to the 20th).")
		fs.StringVar(&atText, "at", "", "A day of the period, YYYY-MM-DD in UTC+8; empty: the last complete period.")
		fs.StringVar(&format, "format", "html", "html (print-ready, two A4 pages), markdown or json.")
		fs.StringVar(&out, "out", "-", "Where to write the brief; - is standard output.")
	})
	if err != nil {
		return err
	}
	if region == "" {
		return errors.New("brief: -region is required")
	}
	scope, err := brief.Scope(region)
	if err != nil {
		return fmt.Errorf("brief: %w", err)
	}
	p, err := briefPeriod(period, atText, time.Now())
	if err != nil {
		return fmt.Errorf("brief: %w", err)
	}
	conn, err := c.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	d, closeDesks, err := openDesks(ctx, c)
	if err != nil {
		return err
	}
	defer closeDesks()
	// The command reads as a leader of the region: whoever runs it holds
	// the stores' credentials already.
	as := desk.User{Username: "riskwatch-brief", Role: desk.RoleLeader, Jurisdiction: scope}
	var names interface {
		Desks(context.Context) ([]desk.Desk, error)
	} = d.Directory
	if c.Directory != "" {
		// The directory file names the places, as serve would load it.
		list, err := readDirectoryFile(c)
		if err != nil {
			return fmt.Errorf("brief: %w", err)
		}
		names = deskList(list)
	}
	maker := brief.NewMaker(pipeline.NewMatterReader(conn), d.Stats, names, nil)
	if maker.Places, err = readPlaces(c.Regions); err != nil {
		return err
	}
	if maker.Populations, err = c.populations(); err != nil {
		return fmt.Errorf("brief: %w", err)
	}
	b, err := maker.Make(ctx, as, region, p)
	if err != nil {
		return fmt.Errorf("brief: %w", err)
	}
	w := stdout
	var f *os.File
	if out != "-" && out != "" {
		if f, err = os.Create(out); err != nil {
			return fmt.Errorf("brief: %w", err)
		}
		defer f.Close() // no-op after the checked Close below
		w = f
	}
	err = brief.Write(w, b, format)
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("brief: write: %w", err)
	}
	fmt.Fprintf(stderr, "brief: %s %s, %d observations\n", b.RegionName, b.Period.Title(), len(b.Observations))
	return nil
}

// briefPeriod is the period of kind holding the day atText, or, without
// one, the last period that ended before now.
func briefPeriod(kind, atText string, now time.Time) (brief.Period, error) {
	if atText == "" {
		cur, err := brief.PeriodAt(kind, now)
		if err != nil {
			return brief.Period{}, err
		}
		return cur.Previous(), nil
	}
	at, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(atText), risk.CST)
	if err != nil {
		return brief.Period{}, fmt.Errorf("-at %q: want YYYY-MM-DD: %w", atText, risk.ErrInvalid)
	}
	return brief.PeriodAt(kind, at)
}

// deskList is a directory read from its file.
type deskList []desk.Desk

func (l deskList) Desks(context.Context) ([]desk.Desk, error) { return l, nil }

// readDirectoryFile reads the desk directory file of -desks.
func readDirectoryFile(c *config) ([]desk.Desk, error) {
	cfg, err := desk.LoadConfig(c.DeskConfig)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(c.Directory)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return desk.ReadDirectory(f, cfg.Notify.Robots)
}
