// The impact preview's view of content: each item's execution settings, from whatever lists
// content (the content service), without the quotas depending on how content is stored.
import type { ContentSettingsItem, ExecutionSettings } from '../../shared/quota';
import type { ContentSettingsSource } from './service';

interface ContentLike {
  guid: string;
  name: string;
  title?: string | null;
  settings: ExecutionSettings;
}

export function contentSettingsSource(content: { list(): Promise<ContentLike[]> }): ContentSettingsSource {
  return {
    async listExecutionSettings(): Promise<ContentSettingsItem[]> {
      return (await content.list()).map((c) => ({
        guid: c.guid,
        name: c.name,
        title: c.title ?? null,
        cpu_request: c.settings.cpu_request,
        cpu_limit: c.settings.cpu_limit,
        memory_request: c.settings.memory_request,
        memory_limit: c.settings.memory_limit,
        service_account_name: c.settings.service_account_name,
      }));
    },
  };
}
