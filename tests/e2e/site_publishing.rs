//! Publishing the dashboard: only what changed is uploaded and what is gone removed, and a build
//! renders again only the pages whose inputs changed, leaving what a full rebuild would.

use chrono::Duration as Span;
use webex_quality::quality::Thresholds;
use webex_quality::site::{Manifest, SiteOptions};
use webex_quality::storage::SharedStore;
use webex_sim::SimConfig;

use crate::helpers::*;

/// A day and a half into the simulated week, one cycle collected into an S3 data store, and an
/// empty S3 site store.
struct OneCycle {
    sim: webex_sim::SimHandle,
    data: SharedStore,
    site: SharedStore,
    site_bucket: String,
    collector: webex_quality::collect::Collector,
}

async fn one_cycle(label: &str) -> OneCycle {
    let sim = spawn_sim_at(
        week_start() + Span::days(1) + Span::hours(12),
        SimConfig::default(),
    )
    .await;
    let (data, _) = crate::s3::store("data").await;
    let (site, site_bucket) = crate::s3::store("site").await;
    store_login(&sim, &data).await;
    let collector = collector(
        &sim,
        &data,
        temp_dir(&format!("{label}-work")),
        quick_cycle(),
    );
    collector.run_cycle().await.unwrap();
    OneCycle {
        sim,
        data,
        site,
        site_bucket,
        collector,
    }
}

/// A full rebuild of what `data` holds (the render cache removed) into a new site store: what it
/// did and the manifest it published.
async fn full_rebuild(
    data: &SharedStore,
    sim: &webex_sim::SimHandle,
    thresholds: &Thresholds,
    label: &str,
) -> (webex_quality::site::Rendered, Manifest) {
    let (fresh, _) = crate::s3::store(label).await;
    data.delete(webex_quality::site::render_cache::SITE_CACHE_KEY)
        .await
        .unwrap();
    let full = webex_quality::site::render_from_store(
        data,
        fresh.as_ref(),
        temp_dir(label),
        SiteOptions::default(),
        thresholds,
        sim_clock(sim),
    )
    .await
    .unwrap();
    let manifest = webex_quality::site::read_manifest(fresh.as_ref())
        .await
        .unwrap()
        .files;
    (full, manifest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_uploads_only_what_changed_and_removes_what_is_gone() {
    let OneCycle {
        sim,
        data,
        site: site_store,
        site_bucket: bucket,
        collector,
    } = one_cycle("publish").await;
    let build = |db: &webex_quality::db::Database| {
        let status = webex_quality::site::StatusView {
            last_run: "—".into(),
            last_outcome: "ok".into(),
            collected: 0,
            pending: 0,
            archived_days: 0,
            rate_limited: 0,
            token_days: "—".into(),
            errors: vec![],
        };
        let options = SiteOptions {
            generated: week_start(),
            ..SiteOptions::default()
        };
        webex_quality::site::build_site(db, &status, &options, &Thresholds::default()).unwrap()
    };
    let first = build(&stored_database(&data).await);
    let published = webex_quality::site::publish(site_store.as_ref(), &first)
        .await
        .unwrap();
    assert_eq!(published.uploaded.len(), first.len());

    // Nothing new: nothing uploaded.
    let again =
        webex_quality::site::publish(site_store.as_ref(), &build(&stored_database(&data).await))
            .await
            .unwrap();
    assert!(
        again.uploaded.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.unchanged, first.len());

    // One more meeting collected: its files and the pages that list it change, nothing else.
    let before: std::collections::BTreeSet<_> = first.keys().cloned().collect();
    let next = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.start > sim.clock().now())
        .unwrap()
        .clone();
    sim.clock().set(next.end + Span::minutes(16));
    collector.run_cycle().await.unwrap();
    let second = build(&stored_database(&data).await);
    let published = webex_quality::site::publish(site_store.as_ref(), &second)
        .await
        .unwrap();
    let page = webex_quality::site::meeting_path(&next.instance_id);
    assert!(published.uploaded.contains(&page.as_str().into()));
    assert!(published.uploaded.contains(&"meetings.html".into()));
    assert!(
        published.uploaded.iter().all(|p| !p.starts_with("assets/")),
        "{:?}",
        published.uploaded
    );
    let old_meeting_pages = before
        .iter()
        .filter(|p| p.starts_with("meetings/") && p.ends_with(".html"))
        .count();
    let reuploaded_old = published
        .uploaded
        .iter()
        .filter(|p| before.contains(&***p) && p.starts_with("meetings/"))
        .count();
    assert_eq!(
        reuploaded_old, 0,
        "{old_meeting_pages} older meeting pages untouched"
    );
    assert!(
        published.uploaded.len() < second.len() / 2,
        "{} of {}",
        published.uploaded.len(),
        second.len()
    );

    // A page that is no longer built is removed.
    let mut fewer = second.clone();
    fewer.remove(&page);
    let published = webex_quality::site::publish(site_store.as_ref(), &fewer)
        .await
        .unwrap();
    assert_eq!(published.deleted, vec![page.clone()]);
    assert_eq!(
        site_store.get(&page, None).await.unwrap(),
        webex_quality::storage::Fetched::NotFound
    );

    // Assets are cached for good, pages revalidated.
    let client = crate::s3::client();
    let css = second
        .keys()
        .find(|p| p.starts_with("assets/style."))
        .unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(format!("site/{css}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    let head = client
        .head_object()
        .bucket(&bucket)
        .key("site/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cycle_only_the_pages_whose_inputs_changed_are_rendered_again() {
    use webex_quality::site::{Rendered, render_from_store};
    let OneCycle {
        sim,
        data,
        site,
        collector,
        ..
    } = one_cycle("incremental").await;
    let work = temp_dir("incremental-render");
    let render = |thresholds: Thresholds| {
        let (data, site, work, clock) = (data.clone(), site.clone(), work.clone(), sim_clock(&sim));
        async move {
            render_from_store(
                &data,
                site.as_ref(),
                work,
                SiteOptions::default(),
                &thresholds,
                clock,
            )
            .await
            .unwrap()
        }
    };

    // The first build renders everything.
    let first: Rendered = render(Thresholds::default()).await;
    assert!(first.meetings_rendered > 10, "{first:?}");
    assert!(first.cache_written);
    assert_eq!(first.meetings_reused, 0);
    assert_eq!(first.published.uploaded_count(), first.files);
    assert!(!first.authorization_needed);

    // Nothing new: no meeting or person page is rendered, nothing is uploaded.
    let again = render(Thresholds::default()).await;
    assert_eq!(again.meetings_rendered, 0, "{again:?}");
    assert_eq!(again.meetings_reused, first.meetings_rendered);
    assert_eq!(again.people_rendered, 0);
    assert_eq!(again.people_reused, first.people_rendered);
    assert!(again.published.uploaded.is_empty(), "{again:?}");
    // Every file left as it was, the kept meeting pages among them, each counted once.
    assert_eq!(
        (again.published.unchanged, again.files),
        (first.files, first.files)
    );
    // Nor is the render cache written again: the store holds it as this build left it.
    assert!(!again.cache_written, "{again:?}");

    // A cache of the earlier form (gzipped JSON under the earlier key), as a site-builder upgraded
    // from it finds: an earlier version's (titles and hosts as strings), so not read: everything is
    // rendered again (the same files, so nothing is uploaded), then it is deleted for the new form.
    {
        use std::io::Write;
        use webex_quality::site::render_cache::{
            LEGACY_SITE_CACHE_KEY, RenderCache, SITE_CACHE_KEY,
        };
        use webex_quality::storage::{Fetched, PutCondition};
        let Fetched::Found(stored) = data.get(SITE_CACHE_KEY, None).await.unwrap() else {
            panic!("no render cache after a render");
        };
        let cache = RenderCache::from_bytes(&stored.bytes).unwrap();
        let mut legacy = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        legacy
            .write_all(&serde_json::to_vec(&cache).unwrap())
            .unwrap();
        data.put(
            LEGACY_SITE_CACHE_KEY,
            legacy.finish().unwrap().into(),
            PutCondition::Always,
            "application/gzip",
        )
        .await
        .unwrap();
        data.delete(SITE_CACHE_KEY).await.unwrap();
        let upgraded = render(Thresholds::default()).await;
        assert_eq!(
            upgraded.meetings_rendered, first.meetings_rendered,
            "{upgraded:?}"
        );
        assert_eq!(upgraded.meetings_reused, 0);
        assert_eq!(upgraded.people_rendered, first.people_rendered);
        assert!(upgraded.published.uploaded.is_empty(), "{upgraded:?}");
        assert!(
            upgraded.cache_written,
            "the new form is written over the earlier"
        );
        assert!(
            matches!(
                data.get(LEGACY_SITE_CACHE_KEY, None).await.unwrap(),
                Fetched::NotFound
            ),
            "the earlier form is still there"
        );
        let Fetched::Found(saved) = data.get(SITE_CACHE_KEY, None).await.unwrap() else {
            panic!("no render cache after the upgraded render");
        };
        assert_eq!(RenderCache::from_bytes(&saved.bytes).unwrap(), cache);
    }

    // A meeting in progress, five minutes apart: the second cycle fetches new minutes of the same
    // meeting (same title, host, times and state), and only the meetings it fetched are rendered again.
    let next = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.start > sim.clock().now() && m.end - m.start >= Span::minutes(30))
        .unwrap()
        .clone();
    sim.clock().set(next.start + Span::minutes(15));
    collector.run_cycle().await.unwrap();
    let during = render(Thresholds::default()).await;
    assert!(during.meetings_rendered >= 1, "{during:?}");
    assert!(during.cache_written, "{during:?}");
    sim.clock().advance(Span::seconds(5 * 60 + 30));
    let cycle = collector.run_cycle().await.unwrap();
    assert!(cycle.calls >= 1, "{cycle:?}");
    let db = stored_database(&data).await;
    let fetched: std::collections::BTreeSet<String> = db
        .meetings()
        .unwrap()
        .into_iter()
        .filter(|m| {
            db.calls(&m.instance_id)
                .unwrap()
                .iter()
                .any(|c| c.completed && c.called_at >= sim.clock().now() - Span::minutes(1))
        })
        .map(|m| m.instance_id)
        .collect();
    assert!(fetched.contains(&next.instance_id), "{fetched:?}");
    let after = render(Thresholds::default()).await;
    assert_eq!(after.meetings_rendered, fetched.len(), "{after:?}");
    assert_eq!(
        after.meetings_reused,
        during.meetings_rendered + during.meetings_reused - fetched.len()
    );
    assert!(
        after.people_reused > 0,
        "people outside the new meetings are kept: {after:?}"
    );
    let page = webex_quality::site::meeting_path(&next.instance_id);
    assert!(after.published.paths().unwrap().contains(&page));

    // A page missing from the site store is rendered again even though its inputs did not change.
    site.delete(&page).await.unwrap();
    let mut manifest = webex_quality::site::read_manifest(site.as_ref())
        .await
        .unwrap();
    manifest.files.remove(page.as_str());
    site.publish(
        webex_quality::site::MANIFEST_KEY,
        serde_json::to_vec(&manifest.files).unwrap().into(),
        "application/json",
        "no-cache",
        webex_quality::storage::PutCondition::Always,
    )
    .await
    .unwrap();
    let repaired = render(Thresholds::default()).await;
    assert_eq!(repaired.meetings_rendered, 1, "{repaired:?}");
    assert!(repaired.published.paths().unwrap().contains(&page));

    // What the incremental builds left (kept pages, the cache's summaries and strings) is what a
    // full rebuild renders: the same files, byte for byte, but for the pages of people in a meeting
    // that changed after their page was rendered that day: those wait for the next day.
    let (full, rebuilt) = full_rebuild(&data, &sim, &Thresholds::default(), "full-render").await;
    assert_eq!(full.meetings_reused, 0, "{full:?}");
    let incremental = webex_quality::site::read_manifest(site.as_ref())
        .await
        .unwrap();
    let differing: Vec<&str> = rebuilt
        .iter()
        .filter(|(path, hash)| incremental.files.get(&**path) != Some(*hash))
        .map(|(path, _)| &**path)
        .collect();
    assert!(
        !differing.is_empty() && differing.iter().all(|p| p.starts_with("people/")),
        "{differing:?}"
    );
    assert_eq!(
        incremental.files.keys().collect::<Vec<_>>(),
        rebuilt.keys().collect::<Vec<_>>()
    );
    // The next day, the first render brings them up to date: then it is a full rebuild's site.
    let midnight = (sim.clock().now() + Span::days(1))
        .date_naive()
        .and_hms_opt(0, 5, 0)
        .unwrap()
        .and_utc();
    sim.clock().set(midnight);
    let next_day = render(Thresholds::default()).await;
    assert_eq!(next_day.people_rendered, differing.len(), "{next_day:?}");
    let (_, rebuilt) = full_rebuild(&data, &sim, &Thresholds::default(), "full-render-2").await;
    let incremental = webex_quality::site::read_manifest(site.as_ref())
        .await
        .unwrap();
    assert_eq!(incremental.files, rebuilt);

    // Other thresholds: every meeting is judged again.
    let mut strict = Thresholds::default();
    strict.audio.packet_loss.fair = 0.0;
    let rejudged = render(strict).await;
    assert_eq!(rejudged.meetings_reused, 0);
    assert_eq!(
        rejudged.meetings_rendered,
        after.meetings_rendered + after.meetings_reused
    );

    // Authorization lost: the next cycle finds the refresh token revoked and says so in the status
    // object; the banner is on every page, so every page is rendered again.
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    let refused = collector.run_cycle().await.unwrap();
    assert_eq!(
        refused.outcome.label(),
        "authorization required",
        "{refused:?}"
    );
    let banner = render(strict).await;
    assert!(banner.authorization_needed);
    assert_eq!(banner.meetings_reused, 0);
    for path in [page.as_str(), "index.html", "status.html", "meetings.html"] {
        let webex_quality::storage::Fetched::Found(object) = site.get(path, None).await.unwrap()
        else {
            panic!("{path} missing")
        };
        let text = String::from_utf8(object.bytes.to_vec()).unwrap();
        assert!(
            text.contains("role=\"alert\"")
                && text.contains("The refresh token provided is expired, revoked"),
            "{path} has the banner"
        );
    }
    sim.shutdown().await;
}

/// A full rebuild that takes longer than one invocation may (the site-builder stops with a fifth
/// of its time left): each render saves its progress, the site stays whole meanwhile, and the next
/// render goes on where the last one stopped, rendering nothing twice, until the site is what one
/// uninterrupted build publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_out_of_time_saves_its_progress_and_the_next_goes_on() {
    use webex_quality::site::{RenderBudget, Rendered, read_manifest, render_from_store_within};
    let OneCycle {
        sim, data, site, ..
    } = one_cycle("resumed").await;
    let work = temp_dir("resumed-render");
    // Time is always up: every render stops after its first batch, here one meeting.
    let out_of_time = RenderBudget {
        stop_at: Some(std::time::Instant::now()),
        batch_bytes: 1,
    };
    let render = |thresholds: Thresholds| {
        let (data, site, work, clock) = (data.clone(), site.clone(), work.clone(), sim_clock(&sim));
        async move {
            render_from_store_within(
                &data,
                site.as_ref(),
                (work, out_of_time),
                SiteOptions::default(),
                &thresholds,
                clock,
            )
            .await
            .unwrap()
        }
    };
    let run_to_the_end = |thresholds: Thresholds| {
        let render = &render;
        let site = site.clone();
        async move {
            let mut renders: Vec<Rendered> = Vec::new();
            loop {
                let before = read_manifest(site.as_ref()).await.unwrap().files;
                let refreshed = render(thresholds).await;
                let after = read_manifest(site.as_ref()).await.unwrap().files;
                if !refreshed.complete {
                    // Stopped early: nothing published is removed or forgotten.
                    assert!(refreshed.published.deleted.is_empty(), "{refreshed:?}");
                    assert!(
                        before.keys().all(|path| after.contains_key(path)),
                        "a stopped render keeps every published file listed"
                    );
                }
                renders.push(refreshed);
                if renders.last().unwrap().complete {
                    return renders;
                }
                assert!(renders.len() < 500, "the renders make no progress");
            }
        }
    };

    // Files a render stopped by the Lambda's timeout (rather than its budget) left two hours ago,
    // and a file of the folder that is not a render's.
    std::fs::create_dir_all(&work).unwrap();
    let left: Vec<_> = webex_quality::storage::work_files::WorkFile::ALL
        .iter()
        .map(|kind| kind.unique(&work, "", ".sqlite"))
        .collect();
    let other = work.join("notes.txt");
    for path in left.iter().chain([&other]) {
        std::fs::write(path, b"left").unwrap();
        age_past_the_hour(path);
    }

    let renders = run_to_the_end(Thresholds::default()).await;
    assert!(left.iter().all(|path| !path.exists()), "{left:?}");
    assert!(other.exists());
    let last = renders.last().unwrap();
    let meetings = last.meetings_reused;
    assert!(meetings > 10, "{last:?}");
    assert_eq!(
        renders.len(),
        meetings + 1,
        "one meeting a render, then the list pages"
    );
    for stopped in &renders[..renders.len() - 1] {
        assert!(!stopped.complete);
        assert_eq!(stopped.meetings_rendered, 1, "one batch each: {stopped:?}");
    }
    // No meeting was rendered twice: the last render only kept them and wrote the list pages.
    let rendered: usize = renders.iter().map(|r| r.meetings_rendered).sum();
    assert_eq!(rendered, meetings);
    assert_eq!(last.meetings_rendered, 0, "{last:?}");
    assert!(last.people_rendered > 0, "{last:?}");

    // The same site as one uninterrupted build publishes.
    let (full, rebuilt) = full_rebuild(&data, &sim, &Thresholds::default(), "resumed-full").await;
    assert!(full.complete);
    assert_eq!(read_manifest(site.as_ref()).await.unwrap().files, rebuilt);

    // Over a published site (other thresholds: every meeting is judged again), the pages stay
    // published while the rebuild goes on, and it ends with the same site as a full rebuild.
    let mut strict = Thresholds::default();
    strict.audio.packet_loss.fair = 0.0;
    let before = read_manifest(site.as_ref()).await.unwrap().files;
    let first = render(strict).await;
    assert!(!first.complete);
    let during = read_manifest(site.as_ref()).await.unwrap().files;
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        during.keys().collect::<Vec<_>>(),
        "the list pages, people and meetings stay published while the rebuild goes on"
    );
    let rest = run_to_the_end(strict).await;
    let rejudged: usize = rest.iter().map(|r| r.meetings_rendered).sum::<usize>() + 1;
    assert_eq!(rejudged, meetings, "every meeting judged again, once");
    assert_eq!(rest.last().unwrap().meetings_reused, meetings);
    let (_, rebuilt) = full_rebuild(&data, &sim, &strict, "resumed-strict").await;
    assert_eq!(read_manifest(site.as_ref()).await.unwrap().files, rebuilt);
    sim.shutdown().await;
}
