package storetest

// agentTests are the tests of the Agents methods.
func agentTests() []test {
	return nil
}
