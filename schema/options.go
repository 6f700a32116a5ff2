package schema

import "crypto/x509"

// An Option changes how Open, Connect and OpenPostgres connect: it carries
// what a DSN should not hold in clear, read from the environment or files.
type Option func(*options)

type options struct {
	password string
	rootCAs  *x509.CertPool
}

// WithPassword replaces the DSN's password; "" keeps it.
func WithPassword(password string) Option {
	return func(o *options) { o.password = password }
}

// WithRootCAs makes Open and Connect speak TLS to ClickHouse and trust the
// server certificates that these CAs sign (a private CA), as if the DSN
// said secure=true. nil changes nothing. For PostgreSQL, the DSN says it:
// sslmode=verify-full&sslrootcert=FILE.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) { o.rootCAs = pool }
}

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}
