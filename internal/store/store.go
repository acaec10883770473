package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gohere/gohere"
)

//go:embed migrations
var migrations embed.FS

var tracer = otel.Tracer("github.com/gohere/gohere/internal/store")

// Engine names returned by DB.Engine.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// dialect is everything the two engines do not share: the queries themselves
// are the same text ($n placeholders work in both).
type dialect struct {
	engine   string
	system   string // OpenTelemetry db.system
	goose    goose.Dialect
	lockRows string // appended to a SELECT that claims rows
}

var (
	sqliteDialect   = dialect{engine: EngineSQLite, system: "sqlite", goose: goose.DialectSQLite3}
	postgresDialect = dialect{engine: EnginePostgres, system: "postgresql", goose: goose.DialectPostgres, lockRows: " FOR UPDATE SKIP LOCKED"}
)

// DB is gohere's store: deploys, their changes and the annotation outbox, on
// SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	write *sql.DB // on SQLite one connection: writers queue in Go, never on SQLITE_BUSY
	read  *sql.DB // on SQLite a pool of read-only connections (WAL); on PostgreSQL == write
	d     dialect
}

// Open connects to the database named by dsn and brings its schema up to
// date. A postgres:// or postgresql:// URL selects PostgreSQL; anything else
// is a SQLite file path or "file:" URI, whose query parameters (modernc
// _pragma=...) override the defaults: WAL, busy timeout, foreign keys,
// synchronous=FULL.
func Open(ctx context.Context, dsn string) (*DB, error) {
	ctx, span := tracer.Start(ctx, "store.Open")
	defer span.End()
	db, err := open(ctx, dsn)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "open")
		return nil, err
	}
	span.SetAttributes(attribute.String("db.system", db.d.system))
	return db, nil
}

func open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.TrimSpace(dsn) == "":
		return nil, gohere.Errorf(gohere.Invalid, "database: empty DSN; want a SQLite path or a postgres:// URL")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	name := redact(dsn)
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "database %s: %w", name, err)
	}
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{write: pool, read: pool, d: postgresDialect}
	if err := db.migrate(ctx, name); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// sqliteParams: WAL lets readers run beside the writer; busy_timeout covers
// other processes on the same file; synchronous=FULL because a deploy that
// was acknowledged must survive a power cut; immediate transactions take the
// write lock up front so two processes never deadlock upgrading a read lock.
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_pragma=query_only(1)"
)

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	name := dsn
	// The caller's parameters come after ours so that they win, e.g.
	// "gohere.db?_pragma=synchronous(NORMAL)" trades durability for speed.
	path, query, _ := strings.Cut(dsn, "?")
	withParams := func(ours string) string {
		if query == "" {
			return path + "?" + ours
		}
		return path + "?" + ours + "&" + query
	}
	w, err := sql.Open("sqlite", withParams(sqliteWriter))
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "database %s: %w", name, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	db := &DB{write: w, read: w, d: sqliteDialect}
	if err := db.migrate(ctx, name); err != nil {
		w.Close()
		return nil, err
	}
	// An in-memory database exists once per connection: it has no readers.
	if path == ":memory:" || strings.Contains(query, "mode=memory") {
		return db, nil
	}
	r, err := sql.Open("sqlite", withParams(sqliteReader))
	if err != nil {
		w.Close()
		return nil, gohere.Errorf(gohere.Invalid, "database %s: %w", name, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db.read = r
	if err := r.PingContext(ctx); err != nil {
		db.Close()
		return nil, dbError(err, "database "+name+": open reader")
	}
	return db, nil
}

// migrate applies the embedded migrations of the engine. On PostgreSQL an
// advisory lock keeps replicas starting together from racing.
func (db *DB) migrate(ctx context.Context, name string) error {
	fsys, err := fs.Sub(migrations, "migrations/"+db.d.engine)
	if err != nil {
		return fmt.Errorf("database %s: migrations: %w", name, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.d.engine == EnginePostgres {
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("database %s: migration lock: %w", name, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(db.d.goose, db.write, fsys, opts...)
	if err != nil {
		return fmt.Errorf("database %s: migrations: %w", name, err)
	}
	// Not p.Close: it would close our pool.
	if _, err := p.Up(ctx); err != nil {
		return dbError(err, "database "+name+": migrate")
	}
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) (err error) {
	ctx, span := db.start(ctx, "Ping")
	defer func() { end(span, err) }()
	if err := db.write.PingContext(ctx); err != nil {
		return dbError(err, "database: ping")
	}
	if err := db.read.PingContext(ctx); err != nil {
		return dbError(err, "database: ping reader")
	}
	return nil
}

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.engine }

// start opens the span of one store call.
func (db *DB) start(ctx context.Context, op string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, attribute.String("db.system", db.d.system))...))
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, gohere.KindOf(err).String())
	}
	span.End()
}

// inTx runs fn in a transaction, committed only when fn succeeds.
func (db *DB) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err, what+": begin")
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(err, what+": commit")
	}
	return nil
}

// querier is what reads need from *sql.DB and *sql.Tx alike.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbError wraps a database failure: the message names the object and stays
// safe to show; the driver's text is kept as the cause.
func dbError(err error, what string) error {
	if _, ok := errors.AsType[*gohere.Error](err); ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &gohere.Error{Kind: failureKind(err), Msg: what, Err: err}
}

// failureKind tells an unreachable or overloaded database (Unavailable: retry
// later) from everything else (Internal).
func failureKind(err error) gohere.Kind {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return gohere.Unavailable
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return gohere.Unavailable
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return gohere.Unavailable
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		// 08: connection exception, 53: insufficient resources, 57P: operator intervention.
		if strings.HasPrefix(e.Code, "08") || strings.HasPrefix(e.Code, "53") || strings.HasPrefix(e.Code, "57P") {
			return gohere.Unavailable
		}
	}
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
			return gohere.Unavailable
		}
	}
	return gohere.Internal
}

// isUniqueViolation reports a duplicate key on either engine.
func isUniqueViolation(err error) bool {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == "23505"
	}
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// redact hides the password of a database URL in messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Times are stored as Unix microseconds (UTC): exact, portable, and sortable
// as integers on both engines.
func toDB(t time.Time) int64    { return t.UnixMicro() }
func fromDB(us int64) time.Time { return time.UnixMicro(us).UTC() }

// normTime is t as it will come back from the database.
func normTime(t time.Time) time.Time { return fromDB(toDB(t)) }
