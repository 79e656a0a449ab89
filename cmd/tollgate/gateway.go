package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/config"
)

// gatewayFlags are the flags of `tollgate serve --gateway HOST[:PORT]`, a
// start without a configuration file, as Sippy's `b2bua_simple -n HOST`
// gives: every call goes to that one gateway, everything else is the
// defaults. It is for a first try and for tests; anything more is a file.
type gatewayFlags struct {
	fs      *flag.FlagSet
	gateway string
	listen  string
	cdrDir  string
}

func (g *gatewayFlags) register(fs *flag.FlagSet) {
	g.fs = fs
	fs.StringVar(&g.gateway, "gateway", "", "switch every call to this gateway, HOST[:PORT][;transport=tcp], with defaults and no configuration file")
	fs.StringVar(&g.listen, "listen", "", "with --gateway: SIP listeners, comma-separated, as sip.listen (default udp and tcp on 127.0.0.1:5060)")
	fs.StringVar(&g.cdrDir, "cdr-dir", "tollgate-cdr", "with --gateway: the call records' spool and daily CSV files")
}

// load is startDaemonWith's loader: the file, or with --gateway the
// configuration made from the flags (and no file to reload).
func (g *gatewayFlags) load(path string) (*config.Config, string, error) {
	set := map[string]bool{}
	g.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if g.gateway == "" {
		if set["listen"] || set["cdr-dir"] {
			return nil, "", errors.New("tollgate serve: --listen and --cdr-dir go with --gateway; otherwise the configuration file says")
		}
		c, err := config.Load(path)
		return c, path, err
	}
	if set["c"] {
		return nil, "", errors.New("tollgate serve: --gateway replaces the configuration file: give -c or --gateway, not both")
	}
	c, err := gatewayConfig(g.gateway, g.listen, g.cdrDir)
	return c, "", err
}

// gatewayConfig is the configuration of serve --gateway. It is built as a
// document and goes through config.Parse like any file, so that it gets
// the same defaults and checks; the flags' values are YAML strings there,
// never YAML text.
func gatewayConfig(gateway, listen, cdrDir string) (*config.Config, error) {
	addr, transport, err := config.ParseNextHop(gateway)
	if err != nil {
		return nil, fmt.Errorf("--gateway: %w", err)
	}
	doc := map[string]any{
		"routes": []any{map[string]any{
			"name": "gateway", "prefix": "",
			"gateways": []any{map[string]any{"address": addr, "transport": transport}},
		}},
		"cdr": map[string]any{"dir": cdrDir},
		// The web UI keeps its users in a database this start has not got.
		"web": map[string]any{"disable": true},
	}
	if listen != "" {
		doc["sip"] = map[string]any{"listen": strings.Split(listen, ",")}
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return config.Parse(data)
}
