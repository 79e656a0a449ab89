package relay

import "testing"

// The configuration file leaves the relay's fields unset to mean these
// defaults, so a Config with nothing set must run as it is.
func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if _, err := c.validate(); err != nil {
		t.Fatalf("defaults %+v: %v", c, err)
	}
}
