// Package apps holds applications built on actnet's transport API: the
// classic test services (echo, discard, source), written as app actors,
// one per connection, in the actor-native API of actnet.Stack.Serve; and a
// crash-on-demand echo that shows supervision at work.
package apps
