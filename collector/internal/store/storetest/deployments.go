package storetest

// deploymentTests are the conformance tests of this part of the store.
func deploymentTests() []test { return nil }
