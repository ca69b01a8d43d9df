#include "kafka_conf.h"

namespace chorus {

Result<KafkaConfPtr> MakeKafkaConf(const KafkaProperties& defaults,
                                   const KafkaProperties& overrides) {
  KafkaConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto* props : {&defaults, &overrides}) {
    for (const auto& [key, value] : *props) {
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        return Status::Error("kafka property " + key + ": " + err);
      }
    }
  }
  return conf;
}

}  // namespace chorus
