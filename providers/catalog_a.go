package providers

// groupA: GitHub, GitLab, Bitbucket, Atlassian, Azure DevOps, Entra,
// Google, Salesforce, Slack, Okta.
var groupA = []*Provider{}
