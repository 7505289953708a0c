// Command cqrs-ferretdb runs an embedded FerretDB v1 (MongoDB wire protocol)
// on PostgreSQL (default) or SQLite, for machines without Docker or a MongoDB package.
// Local development and CI only; see infra/provision.sh.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	listenTLS := flag.String("listen-tls", "", "TCP address to listen on with TLS (empty: none); needs -tls-cert and -tls-key")
	tlsCert := flag.String("tls-cert", "", "server certificate (PEM) of the TLS listener")
	tlsKey := flag.String("tls-key", "", "server key (PEM) of the TLS listener")
	handler := flag.String("handler", "postgresql", "storage backend: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql backend), e.g. postgres://u:p@127.0.0.1:5432/ferretdb")
	data := flag.String("data", "ferretdb-data", "directory for the SQLite databases (sqlite backend; created if missing)")
	level := flag.String("log-level", "warn", "FerretDB log level: debug, info, warn or error")
	ginEvery := flag.Duration("gin-interval", time.Second, "postgresql backend: how often to give new indexes a GIN companion (0: never)")
	auth := flag.Bool("auth", false, "postgresql backend: clients must log in (authMechanism=PLAIN) as a PostgreSQL role; FerretDB gets -postgresql-url without its password, which only the GIN keeper uses")
	flag.Parse()
	msg := log.New(os.Stderr, "cqrs-ferretdb: ", log.LstdFlags)

	// FerretDB v1 opens PostgreSQL as the client's PLAIN user and password, and as the URL's own
	// credentials for a client that sent none: without a password there, such a client is refused.
	ferretURL := *pgURL
	if *auth && *handler == "postgresql" {
		u, err := url.Parse(*pgURL)
		if err != nil {
			msg.Fatalf("bad -postgresql-url: %v", err)
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		ferretURL = u.String()
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		msg.Fatalf("bad -log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(logger)

	sqliteURL := ""
	if *handler == "sqlite" {
		dir, err := filepath.Abs(*data)
		if err != nil {
			msg.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			msg.Fatal(err)
		}
		sqliteURL = "file:" + dir + "/"
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen, TLS: *listenTLS, TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey},
		Logger:        logger,
		Handler:       *handler,
		PostgreSQLURL: ferretURL,
		SQLiteURL:     sqliteURL,
	})
	if err != nil {
		msg.Fatal(err)
	}

	if *handler == "postgresql" && *ginEvery > 0 {
		go keepGINIndexes(ctx, *pgURL, *ginEvery, msg)
	}
	msg.Printf("listening on %s (TLS: %q), %s backend (clients must log in: %t)", *listen, *listenTLS, *handler, *auth && *handler == "postgresql")
	if err := f.Run(ctx); err != nil {
		msg.Fatal(err)
	}
	msg.Print("stopped")
}
