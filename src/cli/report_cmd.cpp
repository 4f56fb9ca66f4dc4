// `tessera guard report`: the self-assessment of the security controls
// (server/self_assessment.hpp), as text, JSON or an HTML page to print.
#include <cstdio>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "cli/cli.hpp"
#include "server/audit.hpp"
#include "server/self_assessment.hpp"

namespace tessera::cli {

void AddReportCommand(CLI::App& guard, Context& ctx) {
  auto html = std::make_shared<std::string>();
  auto* report = guard.add_subcommand(
      "report",
      "The self-assessment (資訊安全自評) of the regulation's technical controls, observed from "
      "this installation's settings and state, with the evidence; the controls tessera cannot "
      "observe are listed for a person to answer; exit 4 when a control fails");
  report->add_option("--html", *html, "Also write the report as an HTML page (prints on A4)");
  report->callback([&ctx, html] {
    Run(ctx, [&]() -> Status {
      server::ServeConfig config;
      config.home = ctx.home;
      TESSERA_RETURN_IF_ERROR(server::ReadServeSettings(ctx.settings, config));
      const server::SelfAssessment a =
          server::AssessControls(config, NowUnixSeconds(), ctx.Vault());
      using server::ControlState;
      const std::string summary = std::to_string(a.Count(ControlState::kHolds)) + " hold, " +
                                  std::to_string(a.Count(ControlState::kWarning)) + " warning, " +
                                  std::to_string(a.Count(ControlState::kFails)) + " fail, " +
                                  std::to_string(a.Count(ControlState::kManual)) + " to answer";
      TESSERA_RETURN_IF_ERROR(
          server::RecordAudit(ctx.home, "guard.report", "self-assessment", summary));
      if (!html->empty()) TESSERA_RETURN_IF_ERROR(WriteFileAtomic(*html, a.ToHtml(), 0644));
      if (a.Count(ControlState::kFails) > 0) ctx.exit_code = kExitProblems;
      if (ctx.json) {
        PrintJson(a.ToJson());
        return Status::Ok();
      }
      for (const server::ControlFinding& f : a.controls)
        std::printf("%-15s %-14s %s\n    %s\n",
                    std::string(server::ControlStateName(f.state)).c_str(), f.id.c_str(),
                    f.title_zh.c_str(), f.evidence.c_str());
      std::printf("%s%s\n", summary.c_str(),
                  html->empty() ? "" : ("; written to " + *html).c_str());
      return Status::Ok();
    });
  });
}

}  // namespace tessera::cli
