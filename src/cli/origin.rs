//! Who runs this process, and where: the login, the host and the CI job, as the environment
//! names them, recorded with each run for whoever audits it later.

use crate::journal::Origin;

/// This process's origin.
pub(crate) fn here() -> Origin {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    of(
        |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
        host,
    )
}

/// The origin the variables `var` gives (and the host name the system gives, if it does).
fn of(var: impl Fn(&str) -> Option<String>, host: Option<String>) -> Origin {
    let user = var("USER")
        .or_else(|| var("USERNAME"))
        .or_else(|| var("LOGNAME"))
        .unwrap_or_else(|| "unknown".into());
    let host = host
        .or_else(|| var("HOSTNAME"))
        .or_else(|| var("COMPUTERNAME"))
        .unwrap_or_else(|| "unknown".into());
    // The job's own page where the CI names one; else its id.
    let github = var("GITHUB_RUN_ID").map(|run| {
        format!(
            "{}/{}/actions/runs/{run}",
            var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            var("GITHUB_REPOSITORY").unwrap_or_default()
        )
    });
    let ci_job = github
        .or_else(|| var("CI_JOB_URL"))
        .or_else(|| var("BUILD_URL"))
        .or_else(|| var("CI_JOB_ID"));
    Origin { user, host, ci_job }
}

#[cfg(test)]
mod tests {
    use super::of;
    use std::collections::BTreeMap;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn a_github_job_is_named_by_its_page() {
        let origin = of(
            with(&[
                ("USER", "runner"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_REPOSITORY", "acme/plans"),
                ("GITHUB_SERVER_URL", "https://github.com"),
            ]),
            Some("gh-runner-7".into()),
        );
        assert_eq!(
            origin.to_string(),
            "runner on gh-runner-7 (CI job https://github.com/acme/plans/actions/runs/42)"
        );
    }

    #[test]
    fn a_gitlab_job_by_its_url_and_nothing_known_as_unknown() {
        let origin = of(
            with(&[("CI_JOB_URL", "https://gitlab.example/x/-/jobs/9")]),
            None,
        );
        assert_eq!(origin.user, "unknown");
        assert_eq!(origin.host, "unknown");
        assert_eq!(
            origin.ci_job.as_deref(),
            Some("https://gitlab.example/x/-/jobs/9")
        );
        assert_eq!(of(with(&[]), None).ci_job, None);
    }
}
