package storetest

// outboxTests are the tests of the Outbox methods.
func outboxTests() []test {
	return nil
}
