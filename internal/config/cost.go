package config

import "fmt"

// InvocationLogging configures model invocation logging at rest
// (docs/invocation-logging.md); whether it is on is the account's
// PutModelInvocationLoggingConfiguration.
type InvocationLogging struct {
	// Keeper is a gocloud.dev/secrets URL for the key that wraps each log
	// object's data key, e.g. base64key://…; empty: a local key kept in
	// <data-dir>/invocation-logs.key.
	Keeper string `yaml:"keeper"`
}

// mergeCost lays o's prices over c's model by model; o's budgets replace c's.
func (c *Config) mergeCost(o *Config) {
	if o.Prices != nil {
		if c.Prices == nil {
			c.Prices = map[string]Price{}
		}
		for id, p := range o.Prices {
			c.Prices[id] = p
		}
	}
	if o.Budgets != nil {
		c.Budgets = o.Budgets
	}
}

func (c *Config) validateCost() error {
	for id, p := range c.Prices {
		if p.InputPer1K < 0 || p.OutputPer1K < 0 || p.PerImage < 0 {
			return fmt.Errorf("prices[%q]: prices must not be negative", id)
		}
	}
	for i, b := range c.Budgets {
		if (b.Principal == "") == (b.Key == "") {
			return fmt.Errorf("budgets[%d]: set exactly one of principal and key", i)
		}
		if b.Limit <= 0 {
			return fmt.Errorf("budgets[%d]: limit must be a positive number of dollars", i)
		}
		switch b.Period {
		case "", "day", "month":
		default:
			return fmt.Errorf("budgets[%d]: period %q: want day or month", i, b.Period)
		}
		switch b.Action {
		case "", "warn", "block":
		default:
			return fmt.Errorf("budgets[%d]: action %q: want warn or block", i, b.Action)
		}
	}
	return nil
}
