package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tollgate/tollgate/internal/testenv"
)

// screenshotDir receives the pictures of the main pages: docs/screenshots,
// which the README shows, when TOLLGATE_SCREENSHOTS is set (they change on
// every run: ports, times), else a temporary folder.
func screenshotDir(t testing.TB) string {
	if os.Getenv("TOLLGATE_SCREENSHOTS") != "" {
		return "../../docs/screenshots"
	}
	return t.TempDir()
}

// The browser's window: what the screenshots show.
const viewW, viewH = 1280, 800

// TestWebUIInChromium drives the admin UI of the real tollgate binary from a
// real headless Chromium, with PostgreSQL and SIPp behind it: an admin logs
// in, sees a live call, kills it with the button (the caller gets the BYE),
// finds its record, filters the records and downloads them as CSV; a viewer
// sees calls but is refused the kill, in the page and over HTTP; an operator
// kills a call. It saves screenshots of the main pages on the way.
func TestWebUIInChromium(t *testing.T) {
	start := time.Now()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	gw := uas(t, "uas.xml", nil)
	// The session cookie keeps its default Secure flag, as `make run` has
	// it: browsers accept it over plain HTTP on loopback.
	webAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t))
	p := startTollgate(t, fmt.Sprintf(`routes:
  - {name: us-carrier, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
web:
  listen: %q
`, gw.Addr(), webAddr), "TOLLGATE_CDR_DATABASE="+dsn)
	base := "http://" + webAddr
	waitHealthy(t, base)

	users := map[string]string{"admin": "admin", "oper": "operator", "viewer": "viewer"}
	for name, role := range users {
		addUser(t, p.cfg, dsn, name, role, name+"-secret-password")
	}
	t.Logf("tollgate up with 3 users after %v", time.Since(start).Round(time.Millisecond))

	b := newBrowser(t, base)
	t.Logf("chromium up after %v", time.Since(start).Round(time.Millisecond))

	// A few finished calls first, so that the dashboard and the record
	// search have something to show and the filter below has something to
	// leave out.
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "14155550100", Calls: 3, Rate: 10,
		Pause: 1100 * time.Millisecond, Keys: map[string]string{"caller": "442071838750"}})

	b.navigate("/login", chromedp.WaitVisible(chromedp.ID("login")))
	b.screenshot("login")
	b.login("admin", "admin-secret-password", "admin")

	// The long call: the caller waits for a BYE, which only the kill sends.
	callA := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: p.addr(),
		Service: "12125550199", Calls: 1, Timeout: 60 * time.Second, Keys: map[string]string{"caller": "33142685300"}})

	b.navigate("/", chromedp.WaitVisible(chromedp.ID("tiles")))
	b.poll("the dashboard to count the live call and draw its charts",
		`document.getElementById("t-active").textContent.trim() === "1" && document.querySelector("#chart-calls svg") !== null`)
	b.screenshot("dashboard")

	b.navigate("/calls", chromedp.WaitVisible(chromedp.ID("calls")))
	idA := b.connectedCall("12125550199")
	if kill := b.count(`#calls tr[data-id="` + idA + `"] form.kill button`); kill != 1 {
		t.Fatalf("admin sees %d kill buttons on the live call, want 1", kill)
	}
	b.screenshot("calls")

	b.killFromPage(idA)
	waitCaller(t, callA, "the killed call's caller")
	b.poll("the killed call to leave the table", `document.querySelector('#calls tr[data-id="`+idA+`"]') === null`)

	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 4)
	b.navigate("/cdrs?limit=3", chromedp.WaitVisible(chromedp.ID("cdrs")))
	if n := b.count(`#cdrs tbody tr:not(.empty)`); n != 3 {
		t.Fatalf("the record search's first page shows %d records, want 3", n)
	}
	b.run("open the next page", chromedp.Click(chromedp.ID("next")), chromedp.WaitVisible(chromedp.CSS(`.pager a[href^="/cdrs?"]:not(#next)`)))
	if n := b.count(`#cdrs tbody tr:not(.empty)`); n != 1 {
		t.Fatalf("the record search's second page shows %d records, want 1\n%s", n, b.describe())
	}
	b.navigate("/cdrs", chromedp.WaitVisible(chromedp.ID("cdrs")))
	b.run("search the records by called prefix",
		chromedp.SendKeys(chromedp.ID("f-called"), "1212"),
		chromedp.Click(chromedp.ID("search")),
		// Typing sets the property; only the new page has the attribute.
		chromedp.WaitVisible(chromedp.CSS(`#f-called[value="1212"]`)))
	if n := b.count(`#cdrs tbody tr:not(.empty)`); n != 1 {
		t.Fatalf("the filtered search shows %d records, want 1", n)
	}
	row := b.text(`#cdrs tbody tr`)
	for _, want := range []string{"12125550199", "33142685300", "admin kill", "200"} {
		if !strings.Contains(row, want) {
			t.Errorf("the killed call's row %q lacks %q", row, want)
		}
	}
	b.screenshot("cdrs")

	recs := b.downloadCSV()
	if len(recs) != 1 || recs[0]["called_received"] != "12125550199" || recs[0]["disconnect_reason"] != "admin kill" ||
		recs[0]["released_by"] != "switch" {
		t.Fatalf("the downloaded CSV of the filtered search holds %v, want only the killed call", recs)
	}

	b.run("open the record", chromedp.Click(chromedp.CSS(`#cdrs tbody tr a`)), chromedp.WaitVisible(chromedp.ID("attempts")))
	if detail := b.text("main"); !strings.Contains(detail, "admin kill") || !strings.Contains(detail, "12125550199") {
		t.Errorf("the record page does not show the kill:\n%s", detail)
	}
	b.screenshot("cdr")

	b.navigate("/config", chromedp.WaitVisible(chromedp.ID("routes")))
	if routes := b.text("#routes"); !strings.Contains(routes, gw.Addr()) {
		t.Errorf("the configuration page's routes %q lack the gateway %s", routes, gw.Addr())
	}
	b.screenshot("config")

	b.navigate("/audit", chromedp.WaitVisible(chromedp.ID("audit")))
	audit := b.text("#audit")
	for _, want := range []string{"call kill", idA, "12125550199", "login"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	b.screenshot("audit")
	b.logout()

	// A viewer sees the calls and is refused the kill: no button in the
	// page, and 403 for the form's POST and the API's DELETE.
	callB := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: p.addr(),
		Service: "13125550142", Calls: 1, Timeout: 60 * time.Second, Keys: map[string]string{"caller": "4930901820"}})
	b.login("viewer", "viewer-secret-password", "viewer")
	if b.count(`header nav a[href="/audit"]`) != 0 {
		t.Error("the viewer's menu offers the audit log")
	}
	b.navigate("/calls", chromedp.WaitVisible(chromedp.ID("calls")))
	idB := b.connectedCall("13125550142")
	// The server rendered the table; wait for the script to redraw it too,
	// so both ways of drawing a row are checked for the button.
	b.evaluate("mark the rows", `document.querySelectorAll("#calls tbody tr").forEach(r => r.dataset.old = "1"); true`)
	b.poll("the live table to redraw", `document.querySelector('#calls tbody tr[data-id="`+idB+`"]:not([data-old])') !== null`)
	if n := b.count(`#calls form.kill, #calls button`); n != 0 {
		t.Fatalf("the viewer sees %d kill buttons", n)
	}
	post := b.fetch("POST", "/calls/"+idB+"/kill", "form")
	del := b.fetch("DELETE", "/api/v1/calls/"+idB, "header")
	auditPage := b.fetch("GET", "/audit", "")
	for what, r := range map[string]fetchResult{"the kill form's POST": post, "the API's DELETE": del, "the audit log": auditPage} {
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "needs ") {
			t.Errorf("viewer: %s answered %d %q, want 403 naming the role needed", what, r.Status, r.Body)
		}
	}
	if up := b.fetch("GET", "/api/v1/calls", ""); up.Status != http.StatusOK || !strings.Contains(up.Body, idB) {
		t.Fatalf("after the viewer's refused kills the call is gone: %d %s", up.Status, up.Body)
	}
	b.logout()

	// An operator may kill.
	b.login("oper", "oper-secret-password", "operator")
	b.navigate("/calls", chromedp.WaitVisible(chromedp.ID("calls")))
	b.connectedCall("13125550142")
	b.killFromPage(idB)
	waitCaller(t, callB, "the operator's killed call's caller")

	if got := b.dialogsAccepted(); len(got) != 2 || got[0] != "Hang up this call?" || got[1] != got[0] {
		t.Errorf("confirm dialogs accepted: %q, want one \"Hang up this call?\" per kill", got)
	}
	b.checkConsole()
	t.Logf("browser flow done after %v", time.Since(start).Round(time.Millisecond))
}

// waitHealthy waits for the web server to answer /healthz.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	testenv.Eventually(t, 20*time.Second, "the web UI at "+base+" to answer /healthz", func() bool {
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// addUser runs "tollgate user add" as an operator would.
func addUser(t *testing.T, cfg, dsn, name, role, password string) {
	t.Helper()
	cmd := exec.Command(binary, "user", "add", "-c", cfg, "--name", name, "--role", role, "--password-stdin")
	cmd.Env = append(os.Environ(), "TOLLGATE_CDR_DATABASE="+dsn)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "added") {
		t.Fatalf("tollgate user add %s: %v\n%s", name, err, out)
	}
}

// waitCaller waits for a uac_wait_bye.xml caller to end its one call well,
// which it does only on receiving a BYE.
func waitCaller(t *testing.T, s *testenv.SIPp, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st, err := s.Wait(ctx); err != nil || st.Successful != 1 {
		t.Fatalf("%s: %s %v", what, st, err)
	}
}

// ui is one headless Chromium with one tab on the web UI.
type ui struct {
	t         *testing.T
	base      string
	ctx       context.Context // the tab
	downloads string
	shots     string // where screenshots go

	mu       sync.Mutex
	dialogs  []string // the messages of the dialogs accepted
	messages []chromedp.ConsoleMessage
}

// newBrowser starts Chromium with a fresh profile. The browser goes away
// with the test, every process of it.
func newBrowser(t *testing.T, base string) *ui {
	t.Helper()
	exe := testenv.Chromium(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	b := &ui{t: t, base: base, downloads: filepath.Join(dir, "downloads")}
	if err := os.MkdirAll(b.downloads, 0o755); err != nil {
		t.Fatal(err)
	}
	// The bound of the whole browser: a Chromium that hangs is killed.
	life, stopLife := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, stopAlloc := chromedp.NewExecAllocator(life,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(viewW, viewH),
		chromedp.UserDataDir(profile),
	)
	tab, closeTab := chromedp.NewContext(actx)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		closeTab()
		stopAlloc()
		stopLife()
		wg.Wait()
		// Children of Chromium (zygote, utility processes) can outlive the
		// main process; they carry the profile directory on their command
		// line, which is this test's alone.
		killed := killProfileProcesses(profile)
		if left := killProfileProcesses(profile); left > 0 {
			t.Errorf("%d chromium processes still running after kill", left)
		} else if killed > 0 {
			t.Logf("killed %d chromium processes left behind by the browser", killed)
		}
	})
	b.ctx = tab
	// The first action starts the browser.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(viewW, viewH)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}

	// Kill buttons ask confirm(): accept, as the user would.
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	console := chromedp.Console(tab)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			if _, err := chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// killProfileProcesses kills the processes started with this profile
// directory and returns how many there were.
func killProfileProcesses(profile string) int {
	want := "--user-data-dir=" + profile
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if arg == want {
				syscall.Kill(pid, syscall.SIGKILL)
				n++
				break
			}
		}
	}
	return n
}

// run runs actions on the tab, failing the test with what the page shows
// when they fail.
func (b *ui) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
	}
}

// describe is the page's address and text, for a failure message.
func (b *ui) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 3000 {
		text = text[:3000]
	}
	return "page " + loc + ":\n" + text
}

func (b *ui) navigate(path string, wait ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.run("open "+path, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + path)}, wait...)...)
}

// poll waits until the JavaScript expression is true, looking again at each
// change of the page (the live tables redraw every 2 s, the dashboard every
// 5 s).
func (b *ui) poll(what, expr string) {
	b.t.Helper()
	b.run("wait for "+what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(25*time.Second))(ctx, t)
		return err
	}))
}

func (b *ui) evaluate(what, expr string) {
	b.t.Helper()
	b.run(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](expr)(ctx, t)
		return err
	}))
}

func (b *ui) count(css string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", css)))
	if err != nil {
		b.t.Fatalf("count %s: %v", css, err)
	}
	return n
}

func (b *ui) text(css string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("text of %s: %v\n%s", css, err, b.describe())
	}
	return s
}

// screenshot saves the viewport as name.png in screenshotDir.
func (b *ui) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if b.shots == "" {
		b.shots = screenshotDir(b.t)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// login fills the login form and checks that the user lands on the
// dashboard with their role shown.
func (b *ui) login(name, password, role string) {
	b.t.Helper()
	b.navigate("/login", chromedp.WaitVisible(chromedp.ID("login")))
	b.run("log in as "+name,
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("tiles")))
	if got := b.text(".who .badge"); got != role {
		b.t.Fatalf("logged in as %s, the page shows the role %q, want %q", name, got, role)
	}
}

func (b *ui) logout() {
	b.t.Helper()
	b.run("log out", chromedp.Click(chromedp.CSS(".who button.link")), chromedp.WaitVisible(chromedp.ID("login")))
}

// connectedCall waits on the active calls page for the call to called to be
// connected, and returns its ID.
func (b *ui) connectedCall(called string) string {
	b.t.Helper()
	row := fmt.Sprintf(`[...document.querySelectorAll("#calls tbody tr[data-id]")].find(r => r.cells[1].textContent === %q && r.querySelector(".state").textContent === "connected")`, called)
	b.poll("the call to "+called+" to be up", row+" !== undefined")
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](row+".dataset.id"))
	if err != nil || id == "" {
		b.t.Fatalf("the call to %s has no id: %q %v", called, id, err)
	}
	return id
}

// killFromPage presses the call's Kill button, accepts the confirmation
// and waits for the page to say the call was killed.
func (b *ui) killFromPage(id string) {
	b.t.Helper()
	b.run("kill call "+id,
		chromedp.Click(chromedp.CSS(`#calls tr[data-id="`+id+`"] form.kill button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if flash := b.text(".flash"); flash != "call "+id+" killed" {
		b.t.Fatalf("after the kill the page says %q", flash)
	}
}

func (b *ui) dialogsAccepted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

type fetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetch sends a request from the page with its session, carrying the page's
// CSRF token as a form field or a header, so that a refusal can only come
// from the user's role.
func (b *ui) fetch(method, path, csrfIn string) fetchResult {
	b.t.Helper()
	js := fmt.Sprintf(`(async () => {
  const csrf = document.body.dataset.csrf, init = {method: %q, headers: {Accept: "application/json"}};
  if (%q === "form") { init.headers["Content-Type"] = "application/x-www-form-urlencoded"; init.body = "csrf=" + encodeURIComponent(csrf); }
  if (%q === "header") { init.headers["X-CSRF-Token"] = csrf; }
  const r = await fetch(%q, init);
  return {status: r.status, body: await r.text()};
})()`, method, csrfIn, csrfIn, path)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s %s from the page: %v", method, path, err)
	}
	return r
}

// downloadCSV clicks "Download CSV" and returns the downloaded file's rows
// as column → value maps.
func (b *ui) downloadCSV() []map[string]string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	b.run("download the CSV",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: ptr(true)})
			return err
		}),
		chromedp.Click(chromedp.ID("csv")))
	var file string
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("waiting for the CSV download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			b.t.Fatal("the CSV download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(b.downloads, ev.GUID)
			break
		}
	}
	fh, err := os.Open(file)
	if err != nil {
		b.t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil || len(rows) == 0 {
		b.t.Fatalf("the downloaded CSV: %v (%d rows)", err, len(rows))
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = row[i]
		}
		out = append(out, m)
	}
	return out
}

// checkConsole fails the test on script errors and on what the browser
// refused (CSP and other security errors); the failed loads that the
// viewer's refused requests cause are expected.
func (b *ui) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.messages {
		switch {
		case m.IsException(), m.Type == chromedp.ConsoleError && m.Source != "network":
			b.t.Errorf("browser console: %s (%s:%d)", m, m.URL, m.Line)
		case m.Type == chromedp.ConsoleWarning:
			b.t.Logf("browser console: %s", m)
		}
	}
}

func ptr[T any](v T) *T { return &v }
