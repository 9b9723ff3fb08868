package providers

// groupA: GitHub, GitLab, Bitbucket, Atlassian, Azure DevOps, Entra,
// Google, Salesforce, Slack, Okta.
var groupA = []*Provider{
	GitHub,
	GitHubApp,
	GitLab,
	Bitbucket,
	Atlassian,
	AzureDevOps,
	Entra,
	Google,
	Salesforce,
	Slack,
	Okta,
}
