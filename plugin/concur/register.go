package concur

import "github.com/redpanda-data/benthos/v4/public/service"

// registerBatchOutput registers a batch output whose batching policy is read
// from batchingField and whose max_in_flight is the standard field. It
// panics if the name is taken, as registration at init time should.
func registerBatchOutput(name string, spec *service.ConfigSpec, batchingField string,
	newOutput func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, error),
) {
	err := service.RegisterBatchOutput(name, spec,
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			out, err := newOutput(conf, mgr)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			policy, err := conf.FieldBatchPolicy(batchingField)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			maxInFlight, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			return out, policy, maxInFlight, nil
		})
	if err != nil {
		panic(err)
	}
}
