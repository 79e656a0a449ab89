package routing

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// An exported file imports unchanged, formulas defused on the way out.
func TestCSVRoundTrip(t *testing.T) {
	in := []Route{
		{Name: "=HYPERLINK(\"x\")", Prefix: "+44", CallerPrefix: "+33", Source: []string{"192.0.2.0/24", "2001:db8::1"},
			Interface: "intern", SelectedProfile: "=gold", Priority: -2, Gateways: []string{"a", "-b"}, HuntStop: []int{486, 603},
			NoProgress: Duration(2 * time.Second), Enabled: true},
		{Name: "all", Prefix: "", Source: []string{}, Gateways: []string{"a"}, HuntStop: []int{}},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"'=HYPERLINK(""x"")",'+44,'+33,192.0.2.0/24 2001:db8::1,intern,'=gold,-2,a '-b`) {
		t.Errorf("formulas not defused:\n%s", b.String())
	}
	out, err := ReadCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("read back %+v\nwant %+v", out, in)
	}
	// A file of the columns before routes had match criteria imports,
	// its routes narrowed by nothing; so does one written before
	// selected_profile.
	mid, err := ReadCSV(strings.NewReader("name,prefix,caller_prefix,source,interface,priority,gateways,hunt_stop,no_progress,max_ring,enabled\n" +
		"uk,44,33,192.0.2.1,intern,3,a,,,,true\n"))
	if err != nil || len(mid) != 1 || mid[0].SelectedProfile != "" || mid[0].Interface != "intern" || mid[0].Priority != 3 || mid[0].CallerPrefix != "33" {
		t.Errorf("a file without selected_profile: %+v, %v", mid, err)
	}
	old, err := ReadCSV(strings.NewReader("name,prefix,gateways,hunt_stop,no_progress,max_ring,enabled\nuk,44,a b,,,,true\n"))
	if err != nil || len(old) != 1 || old[0].CallerPrefix != "" || len(old[0].Source) != 0 || old[0].Interface != "" || old[0].SelectedProfile != "" || old[0].Priority != 0 ||
		!reflect.DeepEqual(old[0].Gateways, []string{"a", "b"}) {
		t.Errorf("a file of the old columns: %+v, %v", old, err)
	}
	_, err = ReadCSV(strings.NewReader("name,prefix,priority,gateways\nr,1,high,a\n"))
	var pe RowError
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(err.Error(), "priority") {
		t.Errorf("bad priority: %v", err)
	}
	_, err = ReadCSV(strings.NewReader("name,prefix,gateways,no_progress\nr,1,a,soon\n"))
	var re RowError
	if !errors.As(err, &re) || re.Line != 2 || !strings.Contains(err.Error(), "no_progress") {
		t.Errorf("bad duration: %v", err)
	}
}

// An import creates and replaces by name, all or nothing.
func TestImportRoutes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := s.CreateGateway(ctx, Gateway{Name: n, Address: "127.0.0.1:5070", Transport: "udp", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateRoute(ctx, Route{Name: "uk", Prefix: "44", Gateways: []string{"a"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadCSV(strings.NewReader("name,prefix,gateways\nuk,44,b a\nde,49,b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, u, err := s.ImportRoutes(ctx, rs); err != nil || c != 1 || u != 1 {
		t.Fatalf("import: %d created, %d replaced, %v", c, u, err)
	}
	all, _ := s.Routes(ctx)
	if len(all) != 2 || !reflect.DeepEqual(all[0].Gateways, []string{"b", "a"}) {
		t.Errorf("routes after the import: %+v", all)
	}
	rs, _ = ReadCSV(strings.NewReader("name,prefix,gateways\nfr,33,a\nit,39,nope\n"))
	var re RowError
	if _, _, err := s.ImportRoutes(ctx, rs); !errors.As(err, &re) || re.Line != 3 {
		t.Errorf("an unknown gateway on line 3: %v", err)
	}
	if all, _ = s.Routes(ctx); len(all) != 2 {
		t.Errorf("a failed import changed the routes: %+v", all)
	}
}
