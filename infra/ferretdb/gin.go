package main

// FerretDB v1 filters a field by equality with `_jsonb->'field' @> value`, which the btree indexes it
// creates for createIndexes cannot serve (FerretDB/FerretDB#4646): every lookup scans its collection.
// ginIndexes gives each of those indexes' leading field a GIN jsonb_path_ops index on the same
// expression, which the planner uses for `@>`: a lookup then costs the same at 1,000 or 100,000
// documents. The application keeps asking for ordinary MongoDB indexes; only this program knows.
//
// fastupdate is off: with it on (PostgreSQL's default) new entries wait in a pending list that
// every lookup scans until a vacuum merges it, so lookups slowed down right after many writes
// (make bench-scale: GetCustomer 3.2 ms at 100,000 customers just seeded, against 1.2 ms at 1,000).
// An index made before, with it on, is switched off too.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The leading key of a FerretDB btree index: `USING btree (((_jsonb -> 'field'::text))`.
var leadingKey = regexp.MustCompile(`USING btree \(\(\(_jsonb -> '((?:[^']|'')+)'::text\)\)`)

var doubledQuote = regexp.MustCompile(`''`)

var fastUpdateOff = regexp.MustCompile(`fastupdate='?off'?`)

// The indexes of FerretDB's collections (its own metadata tables aside): its btree ones, and the GIN
// ones this program made.
const ferretIndexes = `
SELECT i.schemaname, i.tablename, i.indexname, i.indexdef
  FROM pg_indexes i
 WHERE i.schemaname NOT IN ('pg_catalog', 'information_schema', 'public')
   AND i.tablename NOT LIKE '\_ferretdb\_%'`

type ginIndex struct {
	schema, table, field string
}

func (g ginIndex) name() string {
	sum := sha256.Sum256([]byte(g.field))
	return fmt.Sprintf("%.40s_%s_gin", g.table, hex.EncodeToString(sum[:4]))
}

func (g ginIndex) create() []string {
	index := pgx.Identifier{g.schema, g.name()}.Sanitize()
	return []string{
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s.%s USING gin ((_jsonb -> %s) jsonb_path_ops)"+
			" WITH (fastupdate = off)",
			pgx.Identifier{g.name()}.Sanitize(), pgx.Identifier{g.schema}.Sanitize(),
			pgx.Identifier{g.table}.Sanitize(), quoteLiteral(g.field)),
		fmt.Sprintf("ALTER INDEX %s SET (fastupdate = off)", index),
	}
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// missing reads the indexes of FerretDB's collections and returns the GIN indexes that do not exist
// yet. Nothing is remembered between calls: a collection dropped and made again under the same name
// gets its GIN index again.
func missing(ctx context.Context, pool *pgxpool.Pool) ([]ginIndex, error) {
	rows, err := pool.Query(ctx, ferretIndexes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	existing := map[[2]string]bool{}
	wanted := map[ginIndex]bool{}
	for rows.Next() {
		var schema, table, name, def string
		if err := rows.Scan(&schema, &table, &name, &def); err != nil {
			return nil, err
		}
		existing[[2]string{schema, name}] = fastUpdateOff.MatchString(def)
		if m := leadingKey.FindStringSubmatch(def); m != nil {
			wanted[ginIndex{schema, table, doubledQuote.ReplaceAllString(m[1], "'")}] = true
		}
	}
	var out []ginIndex
	for g := range wanted {
		if !existing[[2]string{g.schema, g.name()}] {
			out = append(out, g)
		}
	}
	return out, rows.Err()
}

// keepGINIndexes creates the missing GIN indexes now and then every interval, until ctx ends.
func keepGINIndexes(ctx context.Context, url string, interval time.Duration, msg *log.Logger) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		msg.Printf("gin indexes: %v", err)
		return
	}
	defer pool.Close()
	for {
		indexes, err := missing(ctx, pool)
		if err != nil && ctx.Err() == nil {
			msg.Printf("gin indexes: reading FerretDB's indexes: %v", err)
		}
		for _, g := range indexes {
			for _, statement := range g.create() {
				if _, err := pool.Exec(ctx, statement); err != nil && ctx.Err() == nil {
					msg.Printf("gin indexes: %s.%s (%s): %v", g.schema, g.table, g.field, err)
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
