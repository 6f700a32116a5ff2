package schema

import "io/fs"

func FSGlob() ([]string, error) { return fs.Glob(ClickHouseMigrations, "*.sql") }
