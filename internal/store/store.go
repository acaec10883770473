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
	"sync"
	"sync/atomic"
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
	lockRow  string // appended to a SELECT whose row the transaction then changes
}

var (
	sqliteDialect   = dialect{engine: EngineSQLite, system: "sqlite", goose: goose.DialectSQLite3}
	postgresDialect = dialect{engine: EnginePostgres, system: "postgresql", goose: goose.DialectPostgres, lockRows: " FOR UPDATE SKIP LOCKED", lockRow: " FOR UPDATE"}
)

// DB is gohere's store: deploys, their changes and the annotation outbox, on
// SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	write *sql.DB // on SQLite one connection: writers queue in Go, never on SQLITE_BUSY
	read  *sql.DB // on SQLite a pool of read-only connections (WAL); on PostgreSQL == write
	d     dialect
	stmts sync.Map // stmtKey → *sql.Stmt, see prepare

	notifying atomic.Bool // see EnableNotifications

	// SQLite only, nil on PostgreSQL: inBatch hands writes to the committer
	// goroutine through batch; inTx wakes the checkpointer through wrote
	// (nil without readers).
	batch     chan *batchedWrite
	wrote     chan struct{}
	closing   chan struct{} // closed by Close: the goroutines stop
	workers   sync.WaitGroup
	closeOnce sync.Once
}

// Open connects to the database named by dsn and brings its schema up to
// date. A postgres:// or postgresql:// URL selects PostgreSQL; anything else
// is a SQLite file path or "file:" URI, whose query parameters (modernc
// _pragma=...) override the defaults: WAL, busy timeout, foreign keys,
// synchronous=NORMAL.
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
// other processes on the same file; immediate transactions take the write
// lock up front so two processes never deadlock upgrading a read lock.
//
// synchronous=NORMAL is a durability trade-off: a commit (and so a 201) is
// in the WAL in the OS page cache, not yet on disk. It survives the process
// being killed (SIGKILL, a crash) and never corrupts the database, but the
// last commits before a power cut or kernel crash can be lost. FULL adds an
// fsync to every commit (one per batch, see inBatch): at 1,000 deploys/s on
// the 2-core VM of issue 2 its p99 matched NORMAL's 4-6 ms in most runs but
// reached 160-390 ms whenever other processes loaded the disk. Where power
// loss must not lose a deploy, add "?_pragma=synchronous(FULL)" to the path.
//
// The writer checkpoints by itself only as a backstop (40 MB of WAL):
// normally the checkpointer does it beside the writer (see checkpoints).
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(10000)&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_pragma=query_only(1)"
)

// checkpointInterval is the least time between two checkpoints. A
// checkpoint fsyncs the WAL and the database file, and while it does, the
// writer's WAL writes can stall, the longer the more pages it copies. At
// 1,000 deploys/s, p99 was 130 ms with SQLite's own checkpoints (every 1,000
// WAL pages, inside a commit), 40 ms with ours every 500 ms, 4-6 ms every
// 1-50 ms.
const checkpointInterval = 25 * time.Millisecond

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	name := dsn
	// The caller's parameters come after ours so that they win, e.g.
	// "gohere.db?_pragma=synchronous(FULL)" trades speed for durability.
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
	db := &DB{write: w, read: w, d: sqliteDialect, batch: make(chan *batchedWrite), closing: make(chan struct{})}
	if err := db.migrate(ctx, name); err != nil {
		w.Close()
		return nil, err
	}
	// An in-memory database exists once per connection: it has no readers
	// and no WAL.
	if path != ":memory:" && !strings.Contains(query, "mode=memory") {
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
			return nil, gohere.Errorf(failureKind(err), "database %s: open reader: %w", name, err)
		}
		db.wrote = make(chan struct{}, 1)
		db.workers.Go(func() { db.checkpoints(context.WithoutCancel(ctx)) })
	}
	db.workers.Go(db.commitBatches)
	return db, nil
}

// checkpoints copies the WAL into the database file after transactions,
// at most every checkpointInterval, on a reader connection. SQLite's own
// checkpoint runs inside the commit that crosses its WAL limit, so its page
// copying and fsyncs hold up every write queued behind that commit; here
// they run beside the writer. Writes outside inTx wait for the next
// transaction's checkpoint or the writer's backstop.
func (db *DB) checkpoints(ctx context.Context) {
	for {
		select {
		case <-db.wrote:
		case <-db.closing:
			return
		}
		// PASSIVE waits for neither the writer nor the readers. A failed
		// checkpoint is retried after the next transaction, and the
		// writer's backstop checkpoint bounds the WAL meanwhile.
		db.read.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-time.After(checkpointInterval):
		case <-db.closing:
			return
		}
	}
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
		// Unlike dbError, the cause is in the message: it goes to the
		// operator starting gohere (a wrong path, a refused connection).
		return gohere.Errorf(failureKind(err), "database %s: migrate: %w", name, err)
	}
	return nil
}

// Close waits for the writes in progress and releases the connections.
func (db *DB) Close() error {
	if db.closing != nil {
		db.closeOnce.Do(func() { close(db.closing) })
		db.workers.Wait()
	}
	var err error
	db.stmts.Range(func(_, s any) bool {
		err = errors.Join(err, s.(*sql.Stmt).Close())
		return true
	})
	err = errors.Join(err, db.write.Close())
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
	if db.wrote != nil {
		select {
		case db.wrote <- struct{}{}:
		default: // the checkpointer knows already
		}
	}
	return nil
}

// maxBatch bounds the writes that share a transaction: enough to drain a
// backlog in a few commits, few enough that the first of them waits briefly.
const maxBatch = 64

// batchedWrite is one caller's part of a shared transaction.
type batchedWrite struct {
	ctx  context.Context
	what string
	fn   func(context.Context, *sql.Tx) error
	done chan error // buffered: the committer never waits for the caller
}

// inBatch runs fn in a transaction, committed only when fn succeeds, like
// inTx. On SQLite the transaction is shared with the other writes queued
// meanwhile (group commit): the one writer pays for one commit (its WAL
// page writes and, with synchronous=FULL, its fsync) per batch instead of
// per write, so a backlog drains in a few commits. Each fn runs in its own
// savepoint, so its error undoes only its writes; a failed commit fails
// them all. There fn gets a ctx that is never canceled, because
// interrupting a statement rolls back the whole shared transaction; a write
// whose ctx ends while it waits is skipped.
func (db *DB) inBatch(ctx context.Context, what string, fn func(context.Context, *sql.Tx) error) error {
	if db.batch == nil {
		return db.inTx(ctx, what, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	w := &batchedWrite{ctx: ctx, what: what, fn: fn, done: make(chan error, 1)}
	select {
	case db.batch <- w:
	case <-ctx.Done():
		return dbError(ctx.Err(), what)
	case <-db.closing:
		return gohere.Errorf(gohere.Unavailable, "%s: database closed", what)
	}
	return <-w.done
}

// commitBatches is the committer: it takes the first queued write and every
// write queued behind it, up to maxBatch, and commits them together.
func (db *DB) commitBatches() {
	for {
		var batch []*batchedWrite
		select {
		case w := <-db.batch:
			batch = append(batch, w)
		case <-db.closing:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case w := <-db.batch:
				batch = append(batch, w)
			default:
				break more
			}
		}
		db.commitBatch(batch)
	}
}

func (db *DB) commitBatch(batch []*batchedWrite) {
	// Not canceled with the first writer's request: the others share it.
	ctx := context.WithoutCancel(batch[0].ctx)
	errs := make([]error, len(batch))
	const save, undo, release = "SAVEPOINT write", "ROLLBACK TO write", "RELEASE write"
	err := db.prepare(ctx, db.write, save, undo, release)
	if err == nil {
		err = db.inTx(ctx, "write batch", func(tx *sql.Tx) error {
			for i, w := range batch {
				if err := w.ctx.Err(); err != nil {
					errs[i] = dbError(err, w.what)
					continue
				}
				if _, err := db.exec(ctx, tx, save); err != nil {
					return dbError(err, "write batch: savepoint")
				}
				if errs[i] = w.fn(context.WithoutCancel(w.ctx), tx); errs[i] != nil {
					if _, err := db.exec(ctx, tx, undo); err != nil {
						return dbError(err, "write batch: roll back")
					}
				}
				if _, err := db.exec(ctx, tx, release); err != nil {
					return dbError(err, "write batch: release")
				}
			}
			return nil
		})
	}
	for i, w := range batch {
		if err != nil {
			// Nothing of the batch was committed: whatever a write saw or
			// answered (an idempotent replay of a row written earlier in
			// this batch, say) did not happen.
			errs[i] = fmt.Errorf("%s: %w", w.what, err)
		}
		w.done <- errs[i]
	}
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// prepare prepares queries on pool, each once for the life of db, for exec
// and query to run without parsing them again: parsing costs SQLite more
// than running the statements of the hot path. Only a bounded set of query
// texts belongs here, as the cache is never pruned. Call it before inTx or
// inBatch, never inside: on SQLite, preparing on the write pool waits for
// the one connection the transaction holds.
func (db *DB) prepare(ctx context.Context, pool *sql.DB, queries ...string) error {
	for _, q := range queries {
		key := stmtKey{pool, q}
		if _, ok := db.stmts.Load(key); ok {
			continue
		}
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			return dbError(err, "database: prepare")
		}
		if _, loaded := db.stmts.LoadOrStore(key, s); loaded {
			s.Close()
		}
	}
	return nil
}

// exec runs query in tx (on the write pool), prepared if prepare was called
// for it.
func (db *DB) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s, ok := db.stmts.Load(stmtKey{db.write, query}); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// query runs query on pool, prepared if prepare was called for it.
func (db *DB) query(ctx context.Context, pool *sql.DB, query string, args ...any) (*sql.Rows, error) {
	if s, ok := db.stmts.Load(stmtKey{pool, query}); ok {
		return s.(*sql.Stmt).QueryContext(ctx, args...)
	}
	return pool.QueryContext(ctx, query, args...)
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
